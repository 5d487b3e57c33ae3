using System.Numerics;
using Lrml.Util;

namespace Lrml.Analysis;

/// <summary>Distance used by the k-nearest-neighbour probes.</summary>
internal enum KnnMetric
{
    /// <summary>Euclidean distance ‖a − b‖.</summary>
    Euclidean,
    /// <summary>Cosine distance 1 − a·b / (‖a‖‖b‖) (a zero vector is at distance 1 from everything).</summary>
    Cosine,
}

/// <summary>The k nearest neighbours of every row among the rows of the other folds (cross-validated neighbours).</summary>
/// <param name="N">Number of rows.</param>
/// <param name="K">Neighbours per row.</param>
/// <param name="Index">Row-major n × k original row indices, nearest first (ties: smaller index first).</param>
/// <param name="Distance">Row-major n × k distances in the chosen metric, ascending.</param>
/// <param name="Folds">Fold of each row (length n).</param>
internal sealed record KnnNeighbours(int N, int K, int[] Index, float[] Distance, int[] Folds);

/// <summary>
/// Exact k-nearest-neighbour search for cross-validation: every row is a query against the rows of all other folds.
/// Distances come from a register-blocked SIMD kernel on ‖b‖² − 2 a·b of centred rows (Euclidean) or −a·b of unit
/// rows (cosine); each query is handled by one thread in a fixed order, so results do not depend on the thread count.
/// </summary>
internal static class KnnSearch
{
    /// <summary>
    /// Stratified fold assignment: the members of each class, in a seeded random order, are dealt to folds
    /// round-robin, continuing the count across classes so fold sizes differ by at most one and each class is spread
    /// as evenly as possible.
    /// </summary>
    public static int[] StratifiedFolds(int[] labels, int classes, int folds, long seed)
    {
        Guard.Labels(labels, labels?.Length ?? 0, classes);
        ValidateFolds(folds, labels!.Length);
        int n = labels.Length;
        var (order, start) = GroupByClass(labels, classes);
        var rng = new Rng(seed, "analysis.knn.folds");
        var result = new int[n];
        int next = 0;
        for (int c = 0; c < classes; c++)
        {
            var members = order.AsSpan(start[c], start[c + 1] - start[c]);
            rng.Shuffle(members);
            foreach (int i in members) { result[i] = next; next = next + 1 == folds ? 0 : next + 1; }
        }
        return result;
    }

    /// <summary>
    /// Group K-fold: every row of a group (e.g. a user) lands in the same fold, so a probe cannot succeed by matching
    /// rows of the same group (LRML's r(u,i) of one user share p_u). Groups are taken in a seeded random order,
    /// largest first, each into the currently smallest fold (ties: lowest fold).
    /// </summary>
    /// <param name="groups">Group id of each row (≥ 0).</param>
    /// <param name="folds">Number of folds (≤ number of distinct groups).</param>
    /// <param name="seed">Seed of the order among groups of equal size.</param>
    public static int[] GroupFolds(int[] groups, int folds, long seed)
    {
        ArgumentNullException.ThrowIfNull(groups);
        int maxGroup = -1;
        for (int i = 0; i < groups.Length; i++)
        {
            if (groups[i] < 0) throw new ArgumentException($"groups[{i}] = {groups[i]} is negative.", nameof(groups));
            maxGroup = Math.Max(maxGroup, groups[i]);
        }
        var size = new int[maxGroup + 1];
        foreach (int g in groups) size[g]++;
        int distinct = 0;
        foreach (int c in size) if (c > 0) distinct++;
        if (folds < 2) throw new ArgumentOutOfRangeException(nameof(folds), folds, "Cross-validation needs at least 2 folds.");
        if (folds > distinct) throw new ArgumentOutOfRangeException(nameof(folds), folds, $"More folds than groups ({distinct}).");
        var ids = new int[distinct];
        for (int g = 0, t = 0; g < size.Length; g++) if (size[g] > 0) ids[t++] = g;
        new Rng(seed, "analysis.knn.groupfolds").Shuffle(ids.AsSpan());
        var rank = new int[distinct];
        for (int t = 0; t < distinct; t++) rank[t] = t;
        // Largest first; equal sizes keep the shuffled order (sort by (−size, shuffled position)).
        Array.Sort(rank, (a, b) => size[ids[b]] != size[ids[a]] ? size[ids[b]].CompareTo(size[ids[a]]) : a.CompareTo(b));
        var foldOfGroup = new int[size.Length];
        var total = new long[folds];
        foreach (int t in rank)
        {
            int best = 0;
            for (int f = 1; f < folds; f++) if (total[f] < total[best]) best = f;
            foldOfGroup[ids[t]] = best;
            total[best] += size[ids[t]];
        }
        var result = new int[groups.Length];
        for (int i = 0; i < groups.Length; i++) result[i] = foldOfGroup[groups[i]];
        return result;
    }

    /// <summary>Random fold assignment of n rows (a seeded permutation dealt round-robin; sizes differ by at most one).</summary>
    public static int[] RandomFolds(int n, int folds, long seed)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "n must not be negative.");
        ValidateFolds(folds, n);
        var perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        new Rng(seed, "analysis.knn.folds").Shuffle(perm.AsSpan());
        var result = new int[n];
        for (int p = 0; p < n; p++) result[perm[p]] = p % folds;
        return result;
    }

    /// <summary>
    /// For every row, its k nearest rows among the rows of the other folds.
    /// </summary>
    /// <param name="x">Row-major n × dim vectors.</param>
    /// <param name="n">Number of rows.</param>
    /// <param name="dim">Columns.</param>
    /// <param name="folds">Fold of each row (values ≥ 0); leave-one-out when every row has its own fold.</param>
    /// <param name="k">Neighbours per row; every fold's complement must hold at least k rows.</param>
    /// <param name="metric">Distance.</param>
    /// <param name="threads">Threads (queries are split in tiles of four rows).</param>
    public static KnnNeighbours WithinFolds(float[] x, int n, int dim, int[] folds, int k, KnnMetric metric, int threads = 1)
    {
        Guard.Matrix(x, n, dim);
        Guard.Threads(threads, nameof(threads));
        ArgumentNullException.ThrowIfNull(folds);
        if (folds.Length != n) throw new ArgumentException($"folds has {folds.Length} entries but n = {n}.", nameof(folds));
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1.");
        int foldCount = 0;
        for (int i = 0; i < n; i++)
        {
            if (folds[i] < 0) throw new ArgumentException($"folds[{i}] = {folds[i]} is negative.", nameof(folds));
            foldCount = Math.Max(foldCount, folds[i] + 1);
        }
        var (order, start) = GroupByClass(folds, foldCount);

        var xt = Prepare(x, n, dim, metric);
        bool euclid = metric == KnnMetric.Euclidean;
        var qNorm = new float[n];
        if (euclid) for (int i = 0; i < n; i++) qNorm[i] = PackedRows.SquaredNorm(xt.AsSpan(i * dim, dim));

        var index = new int[(long)n * k];
        var dist = new float[(long)n * k];
        var train = new int[n];
        for (int f = 0; f < foldCount; f++)
        {
            int members = start[f + 1] - start[f];
            if (members == 0) continue;
            int t = 0;
            for (int j = 0; j < n; j++) if (folds[j] != f) train[t++] = j;
            if (t < k)
                throw new ArgumentException($"Fold {f} leaves only {t} rows to search but k = {k}; use fewer folds or a smaller k.", nameof(k));
            var packed = new PackedRows(xt, dim, train[..t]);
            var queries = order.AsSpan(start[f], members).ToArray();
            int tiles = (members + 3) / 4;
            Par.For(0, tiles, threads, () => new Scratch(packed.Padded, k), (tile, s) =>
            {
                int q0 = tile * 4, count = Math.Min(4, members - q0);
                var rows = queries.AsSpan(q0, count);
                DistanceKernels.Keys(xt, dim, rows, packed, euclid, euclid ? -2f : -1f, s.Buffer, packed.Padded);
                for (int r = 0; r < count; r++)
                {
                    int row = rows[r];
                    TopK(s.Buffer.AsSpan(r * packed.Padded, packed.Count), k, s.Keys, s.Pos);
                    if (s.Pos[k - 1] < 0)
                        throw new ArgumentException($"Distances from row {row} overflow the float range; rescale the vectors.", nameof(x));
                    for (int m = 0; m < k; m++)
                    {
                        long o = (long)row * k + m;
                        index[o] = packed.Rows[s.Pos[m]];
                        float key = s.Keys[m];
                        dist[o] = euclid ? MathF.Sqrt(Math.Max(0f, key + qNorm[row])) : Math.Clamp(1f + key, 0f, 2f);
                    }
                }
            });
        }
        return new KnnNeighbours(n, k, index, dist, (int[])folds.Clone());
    }

    private sealed class Scratch(int padded, int k)
    {
        public readonly float[] Buffer = new float[4 * padded];
        public readonly float[] Keys = new float[k];
        public readonly int[] Pos = new int[k];
    }

    /// <summary>The k smallest keys (strictly smaller replaces, so equal keys keep the earlier position), ascending.</summary>
    private static void TopK(ReadOnlySpan<float> keys, int k, float[] bestKey, int[] bestPos)
    {
        Array.Fill(bestKey, float.PositiveInfinity);
        Array.Fill(bestPos, -1);
        float worst = float.PositiveInfinity;
        int w = Vector<float>.Count, j = 0;
        for (; j + w <= keys.Length; j += w)
        {
            var v = new Vector<float>(keys.Slice(j, w));
            if (!Vector.LessThanAny(v, new Vector<float>(worst))) continue;
            for (int l = j; l < j + w; l++)
                if (keys[l] < worst) worst = Insert(keys[l], l, k, bestKey, bestPos);
        }
        for (; j < keys.Length; j++)
            if (keys[j] < worst) worst = Insert(keys[j], j, k, bestKey, bestPos);
    }

    private static float Insert(float key, int pos, int k, float[] bestKey, int[] bestPos)
    {
        int p = k - 1;
        while (p > 0 && key < bestKey[p - 1]) { bestKey[p] = bestKey[p - 1]; bestPos[p] = bestPos[p - 1]; p--; }
        bestKey[p] = key; bestPos[p] = pos;
        return bestKey[k - 1];
    }

    /// <summary>Centred copy (Euclidean: distances unchanged, less cancellation in ‖b‖² − 2a·b) or unit-row copy (cosine).</summary>
    private static float[] Prepare(float[] x, int n, int dim, KnnMetric metric)
    {
        if (metric == KnnMetric.Euclidean) return Tsne.Centre(x, n, dim);
        var u = new float[x.Length];
        for (int i = 0; i < n; i++)
        {
            var src = x.AsSpan(i * dim, dim);
            double norm = Math.Sqrt(PackedRows.SquaredNorm(src));
            if (norm > 0) System.Numerics.Tensors.TensorPrimitives.Multiply(src, (float)(1.0 / norm), u.AsSpan(i * dim, dim));
        }
        return u;
    }

    internal static void ValidateFolds(int folds, int n)
    {
        if (folds < 2) throw new ArgumentOutOfRangeException(nameof(folds), folds, "Cross-validation needs at least 2 folds.");
        if (folds > n) throw new ArgumentOutOfRangeException(nameof(folds), folds, $"More folds than rows (n = {n}).");
    }

    /// <summary>Counting sort of row indices by group: rows of group g are order[start[g] .. start[g+1]), ascending.</summary>
    internal static (int[] Order, int[] Start) GroupByClass(int[] labels, int classes)
    {
        var start = new int[classes + 1];
        foreach (int l in labels) start[l + 1]++;
        for (int c = 0; c < classes; c++) start[c + 1] += start[c];
        var fill = (int[])start.Clone();
        var order = new int[labels.Length];
        for (int i = 0; i < labels.Length; i++) order[fill[labels[i]]++] = i;
        return (order, start);
    }
}
