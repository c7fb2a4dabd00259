//! `RttConfigIsValid`: which (IPA width, starting level, number of starting tables) are valid.
//!
//! Derived from the Arm ARM's stage-2 rules for the 4 KiB granule: a table at level `l` resolves
//! address bits up to `12 + 9 × (4 − l)`; an IPA `w` bits wide starting at level `l` needs
//! `2^(w − that)` concatenated tables (at most 16), and must need more than one level-`l+1` table's
//! worth (else a later start level is required). Level −1 exists only with LPA2. Pure functions.

/// Most concatenated starting-level tables.
pub const MAX_START_TABLES: u32 = 16;

/// Highest IPA bit + 1 that a single table at `level` covers.
const fn top_bits(level: i64) -> i64 {
    12 + 9 * (4 - level)
}

/// How many concatenated tables an IPA of `ipa_width` bits needs at `level`, or `None` if that start
/// level is not valid for that width.
pub const fn start_tables_needed(ipa_width: u8, level: i64, lpa2: bool) -> Option<u32> {
    let w = ipa_width as i64;
    if level < -1 || level > 3 || (level == -1 && !lpa2) {
        return None;
    }
    let top = if level == -1 { 52 } else { top_bits(level) };
    let bottom = if level == -1 { 48 } else { top - 9 };
    if w <= bottom || w > top + 4 {
        return None;
    }
    if !lpa2 && w > 48 {
        return None;
    }
    Some(if w > top { 1 << (w - top) } else { 1 })
}

/// `RttConfigIsValid(ipa_width, rtt_level_start, rtt_num_start)` for a machine with `pa_bits` of
/// physical address (a level-0 start needs a PA range of at least 44 bits).
pub const fn rtt_config_is_valid(ipa_width: u8, level_start: i64, num_start: u32, lpa2: bool, pa_bits: u8) -> bool {
    if level_start == 0 && pa_bits < 44 {
        return false;
    }
    match start_tables_needed(ipa_width, level_start, lpa2) {
        Some(n) => n == num_start && n <= MAX_START_TABLES,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_the_spec() {
        // Level 0: 40–48 bits, one table.
        for w in 40..=48 {
            assert_eq!(start_tables_needed(w, 0, false), Some(1), "w={w}");
        }
        assert_eq!(start_tables_needed(39, 0, false), None);
        assert_eq!(start_tables_needed(49, 0, false), None);
        assert_eq!(start_tables_needed(49, 0, true), Some(2));
        assert_eq!(start_tables_needed(52, 0, true), Some(16));
        // Level 1: 31–39 one table, 40–43 concatenated 2, 4, 8, 16.
        assert_eq!(start_tables_needed(32, 1, false), Some(1));
        assert_eq!(start_tables_needed(39, 1, false), Some(1));
        assert_eq!(start_tables_needed(40, 1, false), Some(2));
        assert_eq!(start_tables_needed(43, 1, false), Some(16));
        assert_eq!(start_tables_needed(44, 1, false), None);
        // Level 2: 32, 33, 34 → 4, 8, 16.
        assert_eq!(start_tables_needed(32, 2, false), Some(4));
        assert_eq!(start_tables_needed(34, 2, false), Some(16));
        assert_eq!(start_tables_needed(35, 2, false), None);
        // Level 3 is never valid for 32 bits or more; level −1 only with LPA2.
        assert_eq!(start_tables_needed(32, 3, false), None);
        assert_eq!(start_tables_needed(52, -1, false), None);
        assert_eq!(start_tables_needed(52, -1, true), Some(1));
        assert_eq!(start_tables_needed(40, 4, false), None);
    }

    #[test]
    fn config_validity() {
        assert!(rtt_config_is_valid(40, 1, 2, false, 48));
        assert!(!rtt_config_is_valid(40, 1, 1, false, 48));
        assert!(!rtt_config_is_valid(40, 1, 4, false, 48));
        assert!(rtt_config_is_valid(48, 0, 1, false, 48));
        assert!(!rtt_config_is_valid(48, 0, 1, false, 40));
    }
}
