//! The help screen: the original's "Altibase Kubernetes Utility Help Screen"
//! (patch note BUG-50005, 7.1.0.9.7: printed alone, without an error line, for
//! `-h`, no option or a wrong option), followed by this implementation's
//! extensions. The first 16 lines are the original's, byte for byte.

/// The original's screen, as the patch note shows it (each line 79 characters).
const ORIGINAL: &str = include_str!("help_screen.txt");

/// This implementation's extensions, in the same layout.
const EXTENSIONS: &str = "\
   Extensions:
             -p end        : same as -p stop
             -p reset --peer N         : pod N is gone: reset every pod's
                                         replication with it
             -p recover --from N --yes : recover the MASTER Pod from SLAVE N
             -s, --status  : replication status of every server (exit 13 when
                             a problem is found)
             --config PATH : aku.conf (else $AKU_CONF, else
                             $ALTIBASE_HOME/conf/aku.conf; .toml = TOML)
             --dry-run     : with -p: print the plan, change nothing
             --output text|json, --lag-threshold BYTES, --show-password,
             --log-format aku|json
   Exit codes: docs/exit-codes.md
===============================================================================
";

/// The whole help screen.
pub fn screen() -> String {
    format!("{ORIGINAL}{EXTENSIONS}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_original_screen_is_kept_byte_for_byte_and_first() {
        let original = include_str!("../tests/manual/help_screen_bug_50005.txt");
        assert!(super::screen().starts_with(original));
        assert_eq!(original.lines().count(), 16);
        assert!(original.lines().all(|l| l.len() == 79), "each line of the original is 79 characters");
        assert!(super::screen().contains("-p, --pod     : [start | stop | clean] specify pod_action"));
    }
}
