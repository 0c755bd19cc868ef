//! Unit tests of the rpm channel (what it shares with deb is tested there).

use super::plan::is_release;

#[test]
fn releases_follow_rpm_rules() {
    for ok in ["1", "2.el9", "0.1~rc1", "1_a+b"] {
        assert!(is_release(ok), "{ok}");
    }
    for bad in ["", "1-2", "a b", ".1", "1/2"] {
        assert!(!is_release(bad), "{bad}");
    }
}
