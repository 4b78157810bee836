//! Ranks for rank statistics: 1-based, ties get the average of the ranks they span
//! (`scipy.stats.rankdata(method="average")`).

/// Returns the 1-based average ranks of `values` (ties share the mean of their positions).
///
/// Values are ordered with `f64::total_cmp`; callers reject non-finite input beforehand.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end; their mean is (start+1+end)/2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::average_ranks;

    #[test]
    fn distinct_values_get_their_positions() {
        assert_eq!(average_ranks(&[30.0, 10.0, 20.0]), vec![3.0, 1.0, 2.0]);
    }

    #[test]
    fn ties_share_the_average_rank() {
        // scipy.stats.rankdata([0, 2, 2, 1, 2, 0]) == [1.5, 5., 5., 3., 5., 1.5]
        assert_eq!(
            average_ranks(&[0.0, 2.0, 2.0, 1.0, 2.0, 0.0]),
            vec![1.5, 5.0, 5.0, 3.0, 5.0, 1.5]
        );
    }

    #[test]
    fn empty_and_single() {
        assert!(average_ranks(&[]).is_empty());
        assert_eq!(average_ranks(&[7.0]), vec![1.0]);
    }

    #[test]
    fn all_equal_is_one_tie_group() {
        assert_eq!(average_ranks(&[4.0; 4]), vec![2.5; 4]);
    }
}
