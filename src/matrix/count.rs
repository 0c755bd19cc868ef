//! Counting a matrix's combinations without making them, and making them
//! without walking the whole product.
//!
//! Part of `matrix`. Three axes of 200 values are 8 million combinations
//! before `exclude`; materialising them took gigabytes. [`Counter`] counts
//! the combinations that survive the exclude entries exactly, grouping the
//! values of an axis that every live exclude entry treats alike and
//! remembering each (axis, live entries) state, so the work grows with the
//! shape of the exclude entries, not with the product. [`Counter::surviving`]
//! then lists the survivors while skipping every prefix that has none, so it
//! costs in proportion to what it returns. Both stop with
//! [`TooComplex`] past a fixed amount of work instead of running for minutes.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::{Pattern, Spec};

/// Steps (value x live entry checks) one matrix may cost to count.
const WORK: u64 = 20_000_000;
/// Axes of two or more values an exclude entry may span while counting
/// (2^256 combinations is beyond any limit anyway).
const DEPTH: usize = 256;

/// Counting stopped: the matrix's shape is too costly to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooComplex;

/// A set of exclude entries, one bit each.
type Bits = Vec<u64>;

fn set(bits: &Bits, i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

fn clear(bits: &mut Bits, i: usize) {
    bits[i / 64] &= !(1 << (i % 64));
}

fn none(bits: &Bits) -> bool {
    bits.iter().all(|w| *w == 0)
}

/// The spec as indexes, ready to count.
pub struct Counter {
    sizes: Vec<usize>,
    /// For each axis: the exclude entries naming it, with the sorted indexes
    /// of the values each one matches.
    by_axis: Vec<Vec<(usize, Vec<u32>)>>,
    /// For each exclude entry, the last axis it names.
    last_axis: Vec<usize>,
    all: Bits,
    memo: HashMap<(usize, Bits), u128>,
    work: u64,
}

impl Counter {
    /// Prepares `spec`, whose exclude entries have been validated (every
    /// key is an axis, every value one of the axis's values).
    pub fn new(spec: &Spec) -> Counter {
        let index: Vec<HashMap<&str, u32>> = spec
            .axes
            .values()
            .map(|vs| {
                vs.iter()
                    .enumerate()
                    .map(|(i, v)| (v.as_str(), i as u32))
                    .collect()
            })
            .collect();
        let mut by_axis = vec![Vec::new(); spec.axes.len()];
        let mut last_axis = Vec::with_capacity(spec.exclude.len());
        for (e, entry) in spec.exclude.iter().enumerate() {
            let mut last = 0;
            for (key, pattern) in entry {
                let Some(axis) = spec.axes.get_index_of(key) else {
                    continue;
                };
                let mut matched: Vec<u32> = pattern_values(pattern)
                    .iter()
                    .filter_map(|v| index[axis].get(v.as_str()).copied())
                    .collect();
                matched.sort_unstable();
                matched.dedup();
                by_axis[axis].push((e, matched));
                last = last.max(axis);
            }
            last_axis.push(last);
        }
        let words = spec.exclude.len().div_ceil(64);
        let mut all = vec![0u64; words];
        for e in 0..spec.exclude.len() {
            all[e / 64] |= 1 << (e % 64);
        }
        Counter {
            sizes: spec.axes.values().map(Vec::len).collect(),
            by_axis,
            last_axis,
            all,
            memo: HashMap::new(),
            work: 0,
        }
    }

    /// How many combinations survive the exclude entries.
    pub fn total(&mut self) -> Result<u128, TooComplex> {
        if self.sizes.is_empty() {
            return Ok(0);
        }
        let all = self.all.clone();
        self.count(0, &all, 0)
    }

    /// Whether some surviving combination has the values `fixed` gives
    /// (axis index -> value index; `None` for a value not on the axis).
    pub fn any_with(&mut self, fixed: &[(usize, Option<u32>)]) -> Result<bool, TooComplex> {
        if self.sizes.is_empty() || fixed.iter().any(|(_, v)| v.is_none()) {
            return Ok(false);
        }
        let mut want: Vec<Option<u32>> = vec![None; self.sizes.len()];
        for (axis, v) in fixed {
            want[*axis] = *v;
        }
        let all = self.all.clone();
        self.any_fixed(0, &all, &want)
    }

    /// The surviving combinations as value indexes, in product order
    /// (first axis outermost).
    pub fn surviving(&mut self) -> Result<Vec<Vec<u32>>, TooComplex> {
        let n = self.sizes.len();
        let mut out = Vec::new();
        if n == 0 {
            return Ok(out);
        }
        // An explicit stack: a matrix may have thousands of axes.
        let mut frames: Vec<(u32, Bits)> = vec![(0, self.all.clone())];
        let mut prefix: Vec<u32> = Vec::with_capacity(n);
        while let Some((next_value, alive)) = frames.last_mut() {
            let d = prefix.len();
            if d == n {
                out.push(prefix.clone());
                frames.pop();
                prefix.pop();
                continue;
            }
            let v = *next_value;
            if v as usize == self.sizes[d] {
                frames.pop();
                prefix.pop();
                continue;
            }
            *next_value += 1;
            let next = self.step(alive, d, v);
            if self.count(d + 1, &next, 0)? == 0 {
                continue;
            }
            prefix.push(v);
            frames.push((0, next));
        }
        Ok(out)
    }

    /// The live entries after axis `d` takes value `v`.
    fn step(&mut self, alive: &Bits, d: usize, v: u32) -> Bits {
        self.work += alive.len() as u64;
        let mut next = alive.clone();
        for (e, matched) in &self.by_axis[d] {
            self.work += 1;
            if set(&next, *e) && matched.binary_search(&v).is_err() {
                clear(&mut next, *e);
            }
        }
        next
    }

    /// Whether an entry in `alive` has matched every axis it names before
    /// axis `d`: then everything below is excluded.
    fn dead(&self, alive: &Bits, d: usize) -> bool {
        alive.iter().enumerate().any(|(w, word)| {
            let mut word = *word;
            while word != 0 {
                let e = w * 64 + word.trailing_zeros() as usize;
                if self.last_axis[e] < d {
                    return true;
                }
                word &= word - 1;
            }
            false
        })
    }

    fn product(&self, d: usize) -> u128 {
        self.sizes[d..]
            .iter()
            .fold(1u128, |acc, s| acc.saturating_mul(*s as u128))
    }

    /// Surviving combinations of the axes from `d` on, given the live
    /// exclude entries.
    fn count(&mut self, mut d: usize, alive: &Bits, depth: usize) -> Result<u128, TooComplex> {
        let mut alive = alive.clone();
        // Axes no live entry names only multiply, and one-valued axes only
        // change the live set: walk both here instead of recursing, so a
        // matrix of thousands of axes costs no stack.
        let mut factor = 1u128;
        loop {
            self.work += alive.len() as u64;
            if self.dead(&alive, d) {
                return Ok(0);
            }
            if none(&alive) {
                return Ok(factor.saturating_mul(self.product(d)));
            }
            if d == self.sizes.len() {
                // Unreachable in practice: an entry's last axis is < len.
                return Ok(0);
            }
            if self.sizes[d] == 1 {
                alive = self.step(&alive, d, 0);
            } else if self.by_axis[d].iter().all(|(e, _)| !set(&alive, *e)) {
                factor = factor.saturating_mul(self.sizes[d] as u128);
            } else {
                break;
            }
            d += 1;
        }
        if depth > DEPTH || self.work > WORK {
            return Err(TooComplex);
        }
        if let Some(n) = self.memo.get(&(d, alive.clone())) {
            return Ok(factor.saturating_mul(*n));
        }
        // Values every live entry treats alike lead to the same count.
        let mut groups: IndexMap<Bits, u128> = IndexMap::new();
        for v in 0..self.sizes[d] as u32 {
            let next = self.step(&alive, d, v);
            *groups.entry(next).or_default() += 1;
            if self.work > WORK {
                return Err(TooComplex);
            }
        }
        let mut total = 0u128;
        for (next, values) in groups {
            let below = self.count(d + 1, &next, depth + 1)?;
            total = total.saturating_add(values.saturating_mul(below));
        }
        self.memo.insert((d, alive), total);
        Ok(factor.saturating_mul(total))
    }

    fn any_fixed(
        &mut self,
        d: usize,
        alive: &Bits,
        want: &[Option<u32>],
    ) -> Result<bool, TooComplex> {
        if want[d..].iter().all(Option::is_none) {
            return Ok(self.count(d, alive, 0)? > 0);
        }
        if self.dead(alive, d) {
            return Ok(false);
        }
        if self.work > WORK {
            return Err(TooComplex);
        }
        let values: Vec<u32> = match want[d] {
            Some(v) => vec![v],
            None => (0..self.sizes[d] as u32).collect(),
        };
        let mut seen: Vec<Bits> = Vec::new();
        for v in values {
            let next = self.step(alive, d, v);
            if seen.contains(&next) {
                continue;
            }
            if self.any_fixed(d + 1, &next, want)? {
                return Ok(true);
            }
            seen.push(next);
        }
        Ok(false)
    }
}

fn pattern_values(p: &Pattern) -> &[String] {
    match p {
        Pattern::One(v) => std::slice::from_ref(v),
        Pattern::AnyOf(vs) => vs,
    }
}

/// A count for people: exact, or "more than" when it does not fit.
pub fn show(n: u128) -> String {
    if n == u128::MAX {
        "more than 10^38".to_string()
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(axes: &[(&str, usize)], exclude: &[&[(&str, &[usize])]]) -> Spec {
        let mut s = Spec::default();
        for (name, n) in axes {
            s.axes
                .insert(name.to_string(), (0..*n).map(|i| format!("v{i}")).collect());
        }
        for entry in exclude {
            s.exclude.push(
                entry
                    .iter()
                    .map(|(k, vs)| {
                        (
                            k.to_string(),
                            Pattern::AnyOf(vs.iter().map(|i| format!("v{i}")).collect()),
                        )
                    })
                    .collect(),
            );
        }
        s
    }

    /// The count the slow way.
    fn brute(s: &Spec) -> u128 {
        let mut n = 0;
        let sizes: Vec<usize> = s.axes.values().map(Vec::len).collect();
        let total: usize = sizes.iter().product();
        for mut i in 0..total {
            let mut c = IndexMap::new();
            for (k, vs) in s.axes.iter().rev() {
                c.insert(k.clone(), vs[i % vs.len()].clone());
                i /= vs.len();
            }
            let excluded = s.exclude.iter().any(|e| {
                e.iter()
                    .all(|(k, p)| c.get(k).is_some_and(|v: &String| p.matches(v)))
            });
            if !excluded {
                n += 1;
            }
        }
        n
    }

    #[test]
    fn counts_match_the_product_minus_excludes() {
        let cases = [
            spec(&[("a", 3), ("b", 4)], &[]),
            spec(&[("a", 3), ("b", 4)], &[&[("a", &[0])]]),
            spec(
                &[("a", 3), ("b", 4), ("c", 2)],
                &[
                    &[("a", &[0]), ("c", &[1])],
                    &[("b", &[1, 2])],
                    &[("a", &[0, 1]), ("b", &[3])],
                ],
            ),
            spec(
                &[("a", 1), ("b", 5), ("c", 1)],
                &[&[("c", &[0]), ("b", &[4])]],
            ),
            spec(&[("a", 2), ("b", 2)], &[&[("a", &[0, 1])]]),
        ];
        for s in cases {
            let mut c = Counter::new(&s);
            assert_eq!(c.total(), Ok(brute(&s)), "{s:?}");
            assert_eq!(c.surviving().unwrap().len() as u128, brute(&s));
        }
    }

    #[test]
    fn huge_products_are_counted_without_being_made() {
        // 200^5 combinations, all but 200 excluded by one entry.
        let keep: Vec<usize> = (1..200).collect();
        let s = spec(
            &[("a", 200), ("b", 200), ("c", 200), ("d", 200), ("e", 200)],
            &[
                &[("a", &keep)],
                &[("b", &keep)],
                &[("c", &keep)],
                &[("d", &keep)],
            ],
        );
        let mut c = Counter::new(&s);
        assert_eq!(c.total(), Ok(200));
        assert_eq!(c.surviving().unwrap().len(), 200);
        let s = spec(&[("a", 200), ("b", 200), ("c", 200)], &[]);
        assert_eq!(Counter::new(&s).total(), Ok(8_000_000));
    }

    #[test]
    fn many_axes_cost_no_stack_and_deep_entries_stop() {
        // Thousands of one-valued axes and an entry on the last one.
        let mut s = spec(&[("a", 3)], &[]);
        for i in 0..5000 {
            s.axes.insert(format!("x{i}"), vec!["v0".into()]);
        }
        s.exclude.push(
            [("x4999", "v0"), ("a", "v1")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Pattern::One(v.to_string())))
                .collect(),
        );
        let mut c = Counter::new(&s);
        assert_eq!(c.total(), Ok(2));
        assert_eq!(c.surviving().unwrap().len(), 2);
        // 300 two-valued axes, one entry on the last: 2^299, saturated.
        let mut s = Spec::default();
        for i in 0..300 {
            s.axes
                .insert(format!("b{i}"), vec!["v0".into(), "v1".into()]);
        }
        s.exclude.push(
            [("b299".to_string(), Pattern::One("v0".into()))]
                .into_iter()
                .collect(),
        );
        assert_eq!(Counter::new(&s).total(), Ok(u128::MAX));
        // One entry naming all 300 axes must be followed 300 deep: refused.
        s.exclude[0] = (0..300)
            .map(|i| (format!("b{i}"), Pattern::One("v0".into())))
            .collect();
        assert_eq!(Counter::new(&s).total(), Err(TooComplex));
    }

    #[test]
    fn products_past_u128_saturate() {
        let mut s = Spec::default();
        for i in 0..20 {
            s.axes
                .insert(format!("a{i}"), (0..1000).map(|v| v.to_string()).collect());
        }
        assert_eq!(Counter::new(&s).total(), Ok(u128::MAX));
        assert_eq!(show(u128::MAX), "more than 10^38");
    }

    #[test]
    fn any_with_finds_surviving_values() {
        let s = spec(&[("a", 2), ("b", 2)], &[&[("a", &[0]), ("b", &[1])]]);
        let mut c = Counter::new(&s);
        assert_eq!(c.any_with(&[(0, Some(0)), (1, Some(1))]), Ok(false));
        assert_eq!(c.any_with(&[(0, Some(0))]), Ok(true));
        assert_eq!(c.any_with(&[(1, Some(1))]), Ok(true));
        assert_eq!(c.any_with(&[(1, None)]), Ok(false));
    }
}
