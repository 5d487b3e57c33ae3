using Lrml.Util;

namespace Lrml.Analysis;

/// <summary>Per-label means of vectors (e.g. mean attention per memory slot for each star rating).</summary>
/// <param name="Classes">Number of labels C.</param>
/// <param name="Dim">Columns (e.g. memory slots N).</param>
/// <param name="Means">Row-major C × dim means (NaN rows for labels without rows).</param>
/// <param name="Counts">Rows of each label.</param>
/// <param name="OverallMean">Mean over all rows (length dim), e.g. to plot per-label deviations.</param>
internal sealed record LabelMeansResult(int Classes, int Dim, double[] Means, int[] Counts, double[] OverallMean);

/// <summary>Mutual information between two discrete variables (here: arg-max attention slot and label), with a
/// permutation baseline, since the plug-in estimate is biased upwards on finite samples.</summary>
internal sealed record MutualInformationResult
{
    /// <summary>Rows.</summary>
    public required int N { get; init; }
    /// <summary>Plug-in estimate I(A; B) = Σ p(a,b) ln(p(a,b) / (p(a)p(b))) in nats.</summary>
    public required double MutualInformation { get; init; }
    /// <summary>Normalised 2I / (H(A) + H(B)) ∈ [0, 1] (0 when both entropies are 0).</summary>
    public required double Normalized { get; init; }
    /// <summary>Entropy of the first variable (slots) in nats.</summary>
    public required double EntropyA { get; init; }
    /// <summary>Entropy of the second variable (labels) in nats.</summary>
    public required double EntropyB { get; init; }
    /// <summary>Mean MI with the labels permuted (the estimator's chance level).</summary>
    public required double ShuffledMean { get; init; }
    /// <summary>Standard deviation of the permuted-label MI.</summary>
    public required double ShuffledStd { get; init; }
    /// <summary>MutualInformation − ShuffledMean: information beyond the finite-sample bias.</summary>
    public required double Excess { get; init; }
    /// <summary>(MutualInformation − ShuffledMean) / ShuffledStd.</summary>
    public required double ZScore { get; init; }
    /// <summary>Permutation p-value (1 + #{shuffled ≥ observed}) / (1 + shuffles).</summary>
    public required double PValue { get; init; }
    /// <summary>Row-major |B| × |A| counts (row = label, column = slot).</summary>
    public required int[] Contingency { get; init; }
}

/// <summary>Per-label means and slot/label mutual information for the attention analyses.</summary>
internal static class LabelMeans
{
    /// <summary>Means of the rows of each label (double accumulation).</summary>
    /// <param name="values">Row-major n × dim values (e.g. attention weights).</param>
    /// <param name="n">Rows.</param>
    /// <param name="dim">Columns.</param>
    /// <param name="labels">Label of each row in [0, classes).</param>
    /// <param name="classes">Number of labels.</param>
    public static LabelMeansResult MeanByLabel(float[] values, int n, int dim, int[] labels, int classes)
    {
        Guard.Matrix(values, n, dim, nameof(values));
        Guard.Labels(labels, n, classes);
        var sums = new double[classes * dim];
        var overall = new double[dim];
        var counts = new int[classes];
        for (int i = 0; i < n; i++)
        {
            int l = labels[i], o = l * dim, r = i * dim;
            counts[l]++;
            for (int d = 0; d < dim; d++) { sums[o + d] += values[r + d]; overall[d] += values[r + d]; }
        }
        for (int c = 0; c < classes; c++)
            for (int d = 0; d < dim; d++)
                sums[c * dim + d] = counts[c] > 0 ? sums[c * dim + d] / counts[c] : double.NaN;
        for (int d = 0; d < dim; d++) overall[d] = n > 0 ? overall[d] / n : double.NaN;
        return new LabelMeansResult(classes, dim, sums, counts, overall);
    }

    /// <summary>Index of the largest value of each row (the first one on ties).</summary>
    public static int[] Argmax(float[] values, int n, int dim)
    {
        Guard.Matrix(values, n, dim, nameof(values));
        var result = new int[n];
        for (int i = 0; i < n; i++)
        {
            var row = values.AsSpan(i * dim, dim);
            int best = 0;
            for (int d = 1; d < dim; d++) if (row[d] > row[best]) best = d;
            result[i] = best;
        }
        return result;
    }

    /// <summary>
    /// Mutual information between each row's arg-max slot and its label, with a permuted-label baseline: a single
    /// number for "attention slots align with the label".
    /// </summary>
    /// <param name="attention">Row-major n × slots attention weights.</param>
    /// <param name="n">Rows.</param>
    /// <param name="slots">Columns (memory slots).</param>
    /// <param name="labels">Label of each row in [0, classes).</param>
    /// <param name="classes">Number of labels.</param>
    /// <param name="shuffles">Label permutations for the baseline (0 = none).</param>
    /// <param name="seed">Seed of the permutations.</param>
    public static MutualInformationResult ArgmaxMutualInformation(float[] attention, int n, int slots, int[] labels, int classes,
        int shuffles = 100, long seed = 0)
    {
        var slot = Argmax(attention, n, slots);
        return MutualInformation(slot, slots, labels, classes, shuffles, seed);
    }

    /// <summary>Plug-in mutual information of two discrete variables a ∈ [0, aValues), b ∈ [0, bValues), with the
    /// baseline of b permuted.</summary>
    public static MutualInformationResult MutualInformation(int[] a, int aValues, int[] b, int bValues, int shuffles = 100, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(a);
        Guard.Labels(a, a.Length, aValues, nameof(a));
        Guard.Labels(b, a.Length, bValues, nameof(b));
        if (shuffles < 0) throw new ArgumentOutOfRangeException(nameof(shuffles), shuffles, "shuffles must not be negative.");
        int n = a.Length;
        if (n == 0) throw new ArgumentException("No rows.", nameof(a));
        var table = new int[bValues * aValues];
        double mi = Plugin(a, aValues, b, bValues, table);
        var ca = new long[aValues];
        var cb = new long[bValues];
        foreach (int v in a) ca[v]++;
        foreach (int v in b) cb[v]++;
        double ha = Entropy(ca, n), hb = Entropy(cb, n);

        var shuffled = new double[shuffles];
        if (shuffles > 0)
        {
            var rng = new Rng(seed, "analysis.mi.shuffle");
            var perm = (int[])b.Clone();
            var scratch = new int[table.Length];
            for (int s = 0; s < shuffles; s++)
            {
                rng.Shuffle(perm.AsSpan());
                shuffled[s] = Plugin(a, aValues, perm, bValues, scratch);
            }
        }
        var (m, sd) = Num.MeanStd(shuffled);
        return new MutualInformationResult
        {
            N = n, MutualInformation = mi, Normalized = ha + hb > 0 ? Math.Clamp(2 * mi / (ha + hb), 0, 1) : 0,
            EntropyA = ha, EntropyB = hb, ShuffledMean = m, ShuffledStd = sd, Excess = mi - m,
            ZScore = Num.ZScore(mi, m, sd), PValue = Num.UpperPValue(mi, shuffled), Contingency = table,
        };
    }

    private static double Plugin(int[] a, int aValues, int[] b, int bValues, int[] table)
    {
        Array.Clear(table);
        int n = a.Length;
        for (int i = 0; i < n; i++) table[b[i] * aValues + a[i]]++;
        var ra = new long[aValues];
        var rb = new long[bValues];
        for (int y = 0; y < bValues; y++)
            for (int x = 0; x < aValues; x++) { int c = table[y * aValues + x]; ra[x] += c; rb[y] += c; }
        double mi = 0;
        for (int y = 0; y < bValues; y++)
            for (int x = 0; x < aValues; x++)
            {
                int c = table[y * aValues + x];
                if (c == 0) continue;
                mi += (double)c / n * Math.Log((double)c * n / ((double)ra[x] * rb[y]));
            }
        return Math.Max(0, mi);
    }

    private static double Entropy(long[] counts, int n)
    {
        double h = 0;
        foreach (long c in counts) if (c > 0) { double p = (double)c / n; h -= p * Math.Log(p); }
        return h;
    }
}

/// <summary>Turns a continuous value (e.g. a timestamp) into ordinal labels for colouring, heat maps and the
/// classification probe.</summary>
internal static class Binning
{
    /// <summary>
    /// Quantile bins: label b for values between the b-th and (b+1)-th of <paramref name="bins"/> empirical
    /// quantiles, so bins hold about equally many rows (equal values always share a bin, so heavy ties can leave a
    /// bin smaller or empty). Returns the labels and the upper edge of each bin (the largest value in it; NaN when
    /// empty).
    /// </summary>
    public static (int[] Labels, double[] UpperEdges) Quantile(double[] values, int bins)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, "bins must be at least 1.");
        Guard.Targets(values, values.Length, nameof(values));
        int n = values.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var keys = (double[])values.Clone();
        Array.Sort(keys, order);
        var labels = new int[n];
        var upper = new double[bins];
        Array.Fill(upper, double.NaN);
        for (int s = 0; s < n;)
        {
            int e = s + 1;
            while (e < n && keys[e] == keys[s]) e++;
            // A run of equal values goes to the bin of its first position.
            int b = (int)((long)s * bins / n);
            for (int t = s; t < e; t++) labels[order[t]] = b;
            upper[b] = keys[e - 1];
            s = e;
        }
        return (labels, upper);
    }
}
