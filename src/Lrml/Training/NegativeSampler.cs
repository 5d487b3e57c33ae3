using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Training;

/// <summary>
/// Draws training negatives uniformly over the items a user has no training interaction with
/// (rejection sampling against the user's sorted training row, so no allocation per draw). Only training
/// positives are excluded: validation and test items are unknown to the model and may be drawn, as in
/// the protocols of the paper's period. Deterministic for a given <see cref="Rng"/> state.
/// </summary>
public sealed class NegativeSampler
{
    private readonly UserItems _positives;
    private readonly int _numItems;

    /// <summary>Creates a sampler over the given training positives.</summary>
    /// <exception cref="ArgumentException">When some user has interacted with every item, so no negative exists.</exception>
    public NegativeSampler(UserItems positives)
    {
        _positives = positives;
        _numItems = positives.NumItems;
        for (int u = 0; u < positives.NumUsers; u++)
            if (positives.CountOf(u) >= _numItems)
                throw new ArgumentException(
                    $"User index {u} has interacted with all {_numItems} items, so no negative can be sampled for it. " +
                    "Remove such users (e.g. a k-core filter) before training.");
    }

    /// <summary>One negative for <paramref name="user"/>.</summary>
    public int Sample(int user, Rng rng)
    {
        var row = _positives[user];
        // Dense rows: draw among the complement directly (k-th non-positive) to avoid long rejection runs.
        if (row.Length * 2 > _numItems) return KthNonPositive(row, rng.NextInt(_numItems - row.Length));
        while (true)
        {
            int j = rng.NextInt(_numItems);
            if (row.Length == 0 || row.BinarySearch(j) < 0) return j;
        }
    }

    /// <summary>Fills negatives for a batch: <paramref name="negatives"/>[b·k + j] for user users[b].</summary>
    public void Fill(ReadOnlySpan<int> users, Span<int> negatives, int perPositive, Rng rng)
    {
        for (int b = 0; b < users.Length; b++)
            for (int j = 0; j < perPositive; j++)
                negatives[b * perPositive + j] = Sample(users[b], rng);
    }

    /// <summary>The k-th (0-based) item not in the sorted row.</summary>
    private static int KthNonPositive(ReadOnlySpan<int> row, int k)
    {
        // The answer x satisfies x - (#row entries < x) == k and x not in row; binary search on row index.
        int lo = 0, hi = row.Length; // number of row entries below the answer
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            // items strictly below row[mid] that are not positives: row[mid] - mid
            if (row[mid] - mid <= k) lo = mid + 1; else hi = mid;
        }
        return k + lo;
    }
}
