using Lrml.Util;

namespace Lrml.Analysis;

/// <summary>Seeded row subsampling for the O(n²) analyses (t-SNE, silhouette) and for balanced plots. Every
/// result is a sorted array of distinct row indices, so the kept rows stay in their original order.</summary>
internal static class Subsample
{
    /// <summary>m distinct rows of [0, n) chosen uniformly at random (all n rows when m ≥ n), ascending.</summary>
    public static int[] Uniform(int n, int m, long seed)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "n must not be negative.");
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "m must not be negative.");
        if (m >= n)
        {
            var all = new int[n];
            for (int i = 0; i < n; i++) all[i] = i;
            return all;
        }
        // Partial Fisher–Yates: the first m slots of a random permutation.
        var perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        var rng = new Rng(seed, "analysis.subsample.uniform");
        for (int i = 0; i < m; i++)
        {
            int j = i + rng.NextInt(n - i);
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }
        var result = perm[..m];
        Array.Sort(result);
        return result;
    }

    /// <summary>
    /// At most <paramref name="perClassMax"/> rows of each label (all rows of smaller classes), chosen uniformly at
    /// random within each class, ascending. Labels must be ≥ 0; the number of classes is max(label) + 1.
    /// </summary>
    public static int[] Stratified(int[] labels, int perClassMax, long seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (perClassMax < 0) throw new ArgumentOutOfRangeException(nameof(perClassMax), perClassMax, "perClassMax must not be negative.");
        int classes = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0) throw new ArgumentException($"labels[{i}] = {labels[i]} is negative.", nameof(labels));
            classes = Math.Max(classes, labels[i] + 1);
        }
        var (order, start) = KnnSearch.GroupByClass(labels, classes);
        var rng = new Rng(seed, "analysis.subsample.stratified");
        var kept = new List<int>();
        for (int c = 0; c < classes; c++)
        {
            var members = order.AsSpan(start[c], start[c + 1] - start[c]);
            int take = Math.Min(perClassMax, members.Length);
            for (int i = 0; i < take; i++)
            {
                int j = i + rng.NextInt(members.Length - i);
                (members[i], members[j]) = (members[j], members[i]);
                kept.Add(members[i]);
            }
        }
        var result = kept.ToArray();
        Array.Sort(result);
        return result;
    }

    /// <summary>The listed rows of a row-major matrix with <paramref name="dim"/> columns, in the listed order.</summary>
    public static float[] Rows(float[] x, int dim, int[] indices)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(indices);
        if (dim < 1 || x.Length % dim != 0) throw new ArgumentException($"x has {x.Length} values, not a multiple of dim = {dim}.", nameof(x));
        int n = x.Length / dim;
        var result = new float[(long)indices.Length * dim];
        for (int r = 0; r < indices.Length; r++)
        {
            int i = indices[r];
            if ((uint)i >= (uint)n) throw new ArgumentException($"indices[{r}] = {i} is outside [0, {n}).", nameof(indices));
            Array.Copy(x, (long)i * dim, result, (long)r * dim, dim);
        }
        return result;
    }

    /// <summary>The listed entries of a per-row array (labels, targets, ids), in the listed order.</summary>
    public static T[] Gather<T>(T[] values, int[] indices)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(indices);
        var result = new T[indices.Length];
        for (int r = 0; r < indices.Length; r++)
        {
            int i = indices[r];
            if ((uint)i >= (uint)values.Length) throw new ArgumentException($"indices[{r}] = {i} is outside [0, {values.Length}).", nameof(indices));
            result[r] = values[i];
        }
        return result;
    }
}
