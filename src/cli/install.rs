//! `matrix doctor --install`: prints what it will run, asks (or `--yes`),
//! runs it, and checks again. The work itself is `toolchain::install`.

use std::io::{IsTerminal, Write};

use super::common::print_out;
use crate::error::Error;
use crate::human::count;
use crate::plan::Plan;
use crate::toolchain::{self, TargetNeed, install};

pub(super) fn install_command(
    plan: &Plan,
    needs: &[TargetNeed],
    smoke: bool,
    yes: bool,
) -> Result<(), Error> {
    let facts = install::Facts::of_this_machine();
    let todo = install::compose(needs, install::warm_targets(plan), &facts);
    let mut problems = Vec::new();
    if todo.is_empty() {
        let mut text = "\nmatrix doctor --install: nothing to install\n".to_string();
        text.push_str(&install::describe(&todo));
        print_out(&text)?;
    } else {
        print_out(&format!(
            "\nmatrix doctor --install will run:\n{}",
            install::describe(&todo)
        ))?;
        confirm(yes)?;
        problems = install::run(&todo);
    }
    // Checked again from scratch: what counts is what the machine has now.
    let after = toolchain::check_plan(plan, smoke);
    let still: Vec<String> = after
        .iter()
        .filter(|n| !n.met)
        .map(toolchain::TargetNeed::missing_line)
        .collect();
    let mut err = std::io::stderr().lock();
    for p in &problems {
        let _ = writeln!(err, "error: {p}");
    }
    if still.is_empty() && problems.is_empty() {
        return print_out("every toolchain the targets need is installed\n");
    }
    if !still.is_empty() {
        let _ = writeln!(err, "still missing:\n{}", still.join("\n"));
    }
    Err(Error::Reported {
        message: format!(
            "{} still missing, {}",
            count(still.len(), "need", "needs"),
            count(problems.len(), "problem", "problems")
        ),
        code: 1,
    })
}

/// Asks on a terminal; without one, only `--yes` lets it run.
fn confirm(yes: bool) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage {
            message: "not installing anything: stdin is not a terminal to ask on; pass --yes to run the commands above".into(),
        });
    }
    eprint!("run these? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(Error::io("stdin"))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        return Ok(());
    }
    eprintln!("nothing installed");
    Err(Error::Reported {
        message: "not confirmed".into(),
        code: 1,
    })
}
