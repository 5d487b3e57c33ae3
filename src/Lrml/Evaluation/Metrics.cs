using System.Numerics;
using System.Runtime.InteropServices;

namespace Lrml.Evaluation;

/// <summary>
/// Ranking metrics as pure static functions over scores and ranks. Higher score = ranked higher.
/// <para><b>Ties are pessimistic — they count against the model.</b> A held-out positive is ranked after every
/// candidate whose score is greater than <i>or equal to</i> its own: rank = 1 + #{candidates with score ≥ positive's
/// score}. A model that gives every item the same score therefore gets the worst possible rank, never a lucky one.
/// In full ranking with several relevant items, non-relevant items come before relevant items of equal score.
/// AUC counts only negatives scored <i>strictly</i> below the positive (ties are losses).</para>
/// <para>NaN scores are rejected with an <see cref="ArgumentException"/>: a NaN compares false with everything and
/// would otherwise silently produce a perfect or a worst rank.</para>
/// <para>Metric names: <c>HR@k</c>, <c>nDCG@k</c>, <c>MRR</c>, <c>AUC</c>, <c>Recall@k</c>, <c>Precision@k</c>,
/// <c>MAP@k</c>.</para>
/// </summary>
public static class Metrics
{
    /// <summary>Name of the mean reciprocal rank.</summary>
    public const string MrrName = "MRR";
    /// <summary>Name of the area under the ROC curve.</summary>
    public const string AucName = "AUC";
    /// <summary>"HR@k".</summary>
    public static string HitRateName(int k) => $"HR@{k}";
    /// <summary>"nDCG@k".</summary>
    public static string NdcgName(int k) => $"nDCG@{k}";
    /// <summary>"Recall@k".</summary>
    public static string RecallName(int k) => $"Recall@{k}";
    /// <summary>"Precision@k".</summary>
    public static string PrecisionName(int k) => $"Precision@{k}";
    /// <summary>"MAP@k".</summary>
    public static string MapName(int k) => $"MAP@{k}";

    // ---------------------------------------------------------------- sampled: one positive among candidates

    /// <summary>
    /// Pessimistic rank (1-based) of a positive among sampled negatives: 1 + #{negatives with score ≥ the positive's}.
    /// Example: a positive tied with two negatives and above all others has rank 3, not 1.
    /// </summary>
    public static int PessimisticRank(float positiveScore, ReadOnlySpan<float> negativeScores)
    {
        if (float.IsNaN(positiveScore)) throw new ArgumentException("The positive's score is NaN.", nameof(positiveScore));
        int rank = 1;
        for (int j = 0; j < negativeScores.Length; j++)
        {
            float s = negativeScores[j];
            if (s >= positiveScore) rank++;
            else if (float.IsNaN(s)) throw new ArgumentException($"Negative score {j} is NaN.", nameof(negativeScores));
        }
        return rank;
    }

    /// <summary>Hit rate at k for one positive: 1 when rank ≤ k, else 0.</summary>
    public static double HitRate(int rank, int k) { CheckRank(rank, k); return rank <= k ? 1.0 : 0.0; }

    /// <summary>nDCG at k for one positive: 1 / log2(rank + 1) when rank ≤ k, else 0 (the ideal DCG is 1).</summary>
    public static double Ndcg(int rank, int k) { CheckRank(rank, k); return rank <= k ? 1.0 / Math.Log2(rank + 1.0) : 0.0; }

    /// <summary>Reciprocal rank 1 / rank (not truncated at any k).</summary>
    public static double ReciprocalRank(int rank) { CheckRank(rank, 1); return 1.0 / rank; }

    /// <summary>
    /// AUC of one positive against its negatives: the fraction of negatives scored strictly below it (ties count as
    /// losses). Requires at least one negative.
    /// </summary>
    public static double Auc(float positiveScore, ReadOnlySpan<float> negativeScores)
    {
        if (negativeScores.IsEmpty) throw new ArgumentException("AUC needs at least one negative.", nameof(negativeScores));
        if (float.IsNaN(positiveScore)) throw new ArgumentException("The positive's score is NaN.", nameof(positiveScore));
        int below = 0;
        for (int j = 0; j < negativeScores.Length; j++)
        {
            float s = negativeScores[j];
            if (s < positiveScore) below++;
            else if (float.IsNaN(s)) throw new ArgumentException($"Negative score {j} is NaN.", nameof(negativeScores));
        }
        return (double)below / negativeScores.Length;
    }

    private static void CheckRank(int rank, int k)
    {
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), rank, "Ranks start at 1.");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1.");
    }

    // ---------------------------------------------------------------- full ranking: several relevant items

    /// <summary>
    /// Positions (1-based, ascending) of the relevant items in the pessimistic full ranking of the candidates.
    /// <paramref name="scores"/> holds a score for every item; candidates are all items except
    /// <paramref name="excluded"/>; <paramref name="relevant"/> lists the relevant candidates. Both index lists must be
    /// strictly ascending, in range and disjoint. Among equal scores non-relevant items come first.
    /// Runs in O(N log R) by counting — the item list is never sorted.
    /// </summary>
    public static int[] RelevantPositions(ReadOnlySpan<float> scores, ReadOnlySpan<int> relevant, ReadOnlySpan<int> excluded = default)
    {
        CheckAscending(relevant, scores.Length, nameof(relevant));
        CheckAscending(excluded, scores.Length, nameof(excluded));
        var positions = new int[relevant.Length];
        var scratch = new float[relevant.Length];
        var counts = new int[relevant.Length + 1];
        int pr = 0;
        foreach (int e in excluded)
        {
            while (pr < relevant.Length && relevant[pr] < e) pr++;
            if (pr < relevant.Length && relevant[pr] == e) throw new ArgumentException($"Item {e} is both relevant and excluded.", nameof(excluded));
        }
        if (!RelevantPositionsCore(scores, relevant, excluded, default, positions, scratch, counts, out int nanItem))
            throw new ArgumentException($"Score of item {nanItem} is NaN.", nameof(scores));
        return positions;
    }

    /// <summary>
    /// Core of <see cref="RelevantPositions"/> without allocation or input checks (the evaluator's hot path).
    /// Candidates = all items minus <paramref name="excludedA"/> and <paramref name="excludedB"/> (sorted lists, may be
    /// empty, disjoint from <paramref name="relevant"/>). Returns false (and the offending item in
    /// <paramref name="nanItem"/>) when a candidate's score is NaN.
    /// <para>Counting scheme: one pass over all items counts, for each relevant item, the items scored at or above it;
    /// the excluded and relevant items are then subtracted again (they are few). With one relevant item — leave-one-out —
    /// the pass is a vectorised count.</para>
    /// </summary>
    internal static bool RelevantPositionsCore(ReadOnlySpan<float> scores, ReadOnlySpan<int> relevant,
        ReadOnlySpan<int> excludedA, ReadOnlySpan<int> excludedB, Span<int> positions, Span<float> relScores, Span<int> counts, out int nanItem)
    {
        int r = relevant.Length;
        nanItem = -1;
        if (r == 0) return true;
        for (int j = 0; j < r; j++)
        {
            float s = scores[relevant[j]];
            if (float.IsNaN(s)) { nanItem = relevant[j]; return false; }
            relScores[j] = s;
        }
        var rs = relScores[..r];
        if (r > 1) rs.Sort(static (a, b) => b.CompareTo(a)); // descending
        counts[..(r + 1)].Clear();
        float lowest = rs[r - 1];

        // 1. NaN among the candidates? (NaN compares false with everything, so it would silently rank last.)
        if (HasNaN(scores))
        {
            for (int i = 0; i < scores.Length; i++)
                if (float.IsNaN(scores[i]) && excludedA.BinarySearch(i) < 0 && excludedB.BinarySearch(i) < 0) { nanItem = i; return false; }
        }

        // 2. All items: counts[j] = number of items whose score first reaches relevant score rs[j] (descending order).
        if (r == 1) counts[0] = CountAtLeast(scores, lowest);
        else
        {
            for (int i = 0; i < scores.Length; i++)
            {
                float s = scores[i];
                if (s >= lowest) counts[FirstAtOrBelow(rs, s)]++; // false for NaN
            }
        }

        // 3. Remove the items that are not competing candidates: excluded items and the relevant items themselves.
        Uncount(scores, excludedA, rs, lowest, counts);
        Uncount(scores, excludedB, rs, lowest, counts);
        Uncount(scores, relevant, rs, lowest, counts);

        int above = 0;
        for (int j = 0; j < r; j++)
        {
            above += counts[j];
            positions[j] = j + 1 + above; // j relevant items and 'above' non-relevant candidates come first
        }
        return true;
    }

    /// <summary>First index j of the descending list with rs[j] ≤ s (the relevant items s is at or above).</summary>
    private static int FirstAtOrBelow(ReadOnlySpan<float> rs, float s)
    {
        int lo = 0, hi = rs.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (rs[mid] <= s) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    private static void Uncount(ReadOnlySpan<float> scores, ReadOnlySpan<int> items, ReadOnlySpan<float> rs, float lowest, Span<int> counts)
    {
        foreach (int i in items)
        {
            float s = scores[i];
            if (s >= lowest) counts[FirstAtOrBelow(rs, s)]--;
        }
    }

    private static int CountAtLeast(ReadOnlySpan<float> x, float t)
    {
        int i = 0, n = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var acc = Vector<int>.Zero;
            var tv = new Vector<float>(t);
            var vs = MemoryMarshal.Cast<float, Vector<float>>(x);
            foreach (var v in vs) acc -= Vector.GreaterThanOrEqual(v, tv); // true lanes are -1
            n = Vector.Sum(acc);
            i = vs.Length * Vector<float>.Count;
        }
        for (; i < x.Length; i++) if (x[i] >= t) n++;
        return n;
    }

    private static bool HasNaN(ReadOnlySpan<float> x)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var vs = MemoryMarshal.Cast<float, Vector<float>>(x);
            foreach (var v in vs) if (!Vector.EqualsAll(v, v)) return true;
            i = vs.Length * Vector<float>.Count;
        }
        for (; i < x.Length; i++) if (float.IsNaN(x[i])) return true;
        return false;
    }

    private static void CheckAscending(ReadOnlySpan<int> items, int n, string name)
    {
        for (int j = 0; j < items.Length; j++)
        {
            if ((uint)items[j] >= (uint)n) throw new ArgumentOutOfRangeException(name, items[j], $"Item index outside [0, {n}).");
            if (j > 0 && items[j] <= items[j - 1]) throw new ArgumentException("Item indices must be strictly ascending.", name);
        }
    }

    /// <summary>HR@k over a full ranking: 1 when at least one relevant item is in the top k.</summary>
    public static double HitRate(ReadOnlySpan<int> positions, int k) { CheckK(k); return positions.Length > 0 && positions[0] <= k ? 1.0 : 0.0; }

    /// <summary>Recall@k = hits in the top k / number of relevant items.</summary>
    public static double Recall(ReadOnlySpan<int> positions, int numRelevant, int k)
    {
        CheckK(k);
        if (numRelevant < 1) throw new ArgumentOutOfRangeException(nameof(numRelevant), "Recall needs at least one relevant item.");
        return (double)Hits(positions, k) / numRelevant;
    }

    /// <summary>Precision@k = hits in the top k / k.</summary>
    public static double Precision(ReadOnlySpan<int> positions, int k) { CheckK(k); return (double)Hits(positions, k) / k; }

    /// <summary>nDCG@k with binary relevance: Σ over relevant positions p ≤ k of 1/log2(p+1), divided by the ideal
    /// DCG Σ_{j=1..min(|rel|,k)} 1/log2(j+1).</summary>
    public static double Ndcg(ReadOnlySpan<int> positions, int numRelevant, int k)
    {
        CheckK(k);
        if (numRelevant < 1) throw new ArgumentOutOfRangeException(nameof(numRelevant), "nDCG needs at least one relevant item.");
        double dcg = 0;
        foreach (int p in positions) { if (p > k) break; dcg += 1.0 / Math.Log2(p + 1.0); }
        double idcg = 0;
        for (int j = 1; j <= Math.Min(numRelevant, k); j++) idcg += 1.0 / Math.Log2(j + 1.0);
        return dcg / idcg;
    }

    /// <summary>AP@k (averaged over users = MAP@k): Σ over relevant positions p ≤ k of Precision@p, divided by
    /// min(|rel|, k).</summary>
    public static double AveragePrecision(ReadOnlySpan<int> positions, int numRelevant, int k)
    {
        CheckK(k);
        if (numRelevant < 1) throw new ArgumentOutOfRangeException(nameof(numRelevant), "AP needs at least one relevant item.");
        double sum = 0;
        for (int j = 0; j < positions.Length; j++)
        {
            int p = positions[j];
            if (p > k) break;
            sum += (j + 1.0) / p; // j+1 relevant items within the first p positions
        }
        return sum / Math.Min(numRelevant, k);
    }

    /// <summary>Reciprocal rank of the first relevant item (0 when there is none).</summary>
    public static double ReciprocalRank(ReadOnlySpan<int> positions) => positions.Length > 0 ? 1.0 / positions[0] : 0.0;

    /// <summary>AUC over a full ranking: mean over relevant items of the fraction of non-relevant candidates scored
    /// strictly below it (ties are losses). <paramref name="numNonRelevant"/> = candidates − relevant.</summary>
    public static double Auc(ReadOnlySpan<int> positions, int numNonRelevant)
    {
        if (positions.IsEmpty) throw new ArgumentException("AUC needs at least one relevant item.", nameof(positions));
        if (numNonRelevant < 1) throw new ArgumentOutOfRangeException(nameof(numNonRelevant), "AUC needs at least one non-relevant candidate.");
        double sum = 0;
        for (int j = 0; j < positions.Length; j++)
        {
            int atOrAbove = positions[j] - (j + 1); // non-relevant candidates with score ≥ this item's
            sum += (double)(numNonRelevant - atOrAbove) / numNonRelevant;
        }
        return sum / positions.Length;
    }

    private static int Hits(ReadOnlySpan<int> positions, int k)
    {
        int h = 0;
        foreach (int p in positions) { if (p > k) break; h++; }
        return h;
    }

    private static void CheckK(int k) { if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1."); }
}
