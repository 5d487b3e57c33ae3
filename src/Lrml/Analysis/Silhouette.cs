using Lrml.Util;

namespace Lrml.Analysis;

/// <summary>Settings of <see cref="Silhouette.Evaluate"/>.</summary>
public sealed record SilhouetteOptions
{
    /// <summary>Rows used (uniform random sample when n is larger; the cost is O(m² dim)).</summary>
    public int SampleSize { get; init; } = 2000;

    /// <summary>Seed of the sample and of the label permutations.</summary>
    public long Seed { get; init; }

    /// <summary>Label permutations of the sample for the shuffled baseline (0 = none); they share the distances.</summary>
    public int Shuffles { get; init; } = 10;

    /// <summary>Threads for the distances.</summary>
    public int Threads { get; init; } = 1;
}

/// <summary>Mean silhouette of a labelling, per class, and against permuted labels.</summary>
public sealed record SilhouetteResult
{
    /// <summary>Mean silhouette over the sampled rows (rows of singleton clusters count as 0).</summary>
    public required double Mean { get; init; }
    /// <summary>Rows used.</summary>
    public required int SampleSize { get; init; }
    /// <summary>Mean silhouette of the sampled rows of each label (NaN for labels absent from the sample).</summary>
    public required double[] PerClassMean { get; init; }
    /// <summary>Rows of each label in the sample.</summary>
    public required int[] PerClassCount { get; init; }
    /// <summary>Mean of the permuted-label mean silhouettes.</summary>
    public required double ShuffledMean { get; init; }
    /// <summary>Standard deviation of the permuted-label mean silhouettes.</summary>
    public required double ShuffledStd { get; init; }
    /// <summary>(Mean − ShuffledMean) / ShuffledStd.</summary>
    public required double ZScore { get; init; }
    /// <summary>Mean silhouette of each permutation.</summary>
    public required double[] Shuffled { get; init; }
}

/// <summary>
/// Silhouette coefficient (Rousseeuw 1987) with Euclidean distances: for row i with label A,
/// a = mean distance to the other rows of A, b = the smallest mean distance to the rows of another label,
/// s = (b − a) / max(a, b), and s = 0 when A has only row i. Large n is handled by a seeded uniform sample (the
/// silhouette is then computed within the sample, as in scikit-learn's sample_size).
/// </summary>
public static class Silhouette
{
    /// <summary>Mean silhouette of the labelling (labels ≥ 0; classes = max label + 1).</summary>
    /// <param name="x">Row-major n × dim vectors.</param>
    /// <param name="n">Rows.</param>
    /// <param name="dim">Columns.</param>
    /// <param name="labels">Label of each row.</param>
    /// <param name="sampleSize">Rows used when n is larger.</param>
    /// <param name="seed">Seed of the sample.</param>
    /// <param name="threads">Threads for the distances.</param>
    public static double Score(float[] x, int n, int dim, int[] labels, int sampleSize = 2000, long seed = 0, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(labels);
        int classes = 1;
        foreach (int l in labels) classes = Math.Max(classes, l + 1);
        return Evaluate(x, n, dim, labels, classes, new SilhouetteOptions { SampleSize = sampleSize, Seed = seed, Shuffles = 0, Threads = threads }).Mean;
    }

    /// <summary>Mean and per-class silhouette with a permuted-label baseline.</summary>
    public static SilhouetteResult Evaluate(float[] x, int n, int dim, int[] labels, int classes, SilhouetteOptions? options = null)
    {
        var o = options ?? new SilhouetteOptions();
        Guard.Matrix(x, n, dim);
        Guard.Labels(labels, n, classes);
        Guard.Threads(o.Threads, nameof(o.Threads));
        if (o.SampleSize < 2) throw new ArgumentOutOfRangeException(nameof(o.SampleSize), o.SampleSize, "SampleSize must be at least 2.");
        if (o.Shuffles < 0) throw new ArgumentOutOfRangeException(nameof(o.Shuffles), o.Shuffles, "Shuffles must not be negative.");

        var rows = Subsample.Uniform(n, o.SampleSize, o.Seed);
        int m = rows.Length;
        var lab = Subsample.Gather(labels, rows);
        var count = new int[classes];
        foreach (int l in lab) count[l]++;
        int present = 0;
        foreach (int c in count) if (c > 0) present++;
        if (present < 2) throw new ArgumentException($"The silhouette needs at least 2 labels among the {m} rows used; found {present}.", nameof(labels));

        int sets = 1 + o.Shuffles;
        var labelSets = new int[sets][];
        labelSets[0] = lab;
        var rng = new Rng(o.Seed, "analysis.silhouette.shuffle");
        for (int s = 1; s < sets; s++)
        {
            labelSets[s] = (int[])labelSets[s - 1].Clone();
            rng.Shuffle(labelSets[s].AsSpan());
        }
        var values = SilhouetteValues(Tsne.Centre(Subsample.Rows(x, dim, rows), m, dim), m, dim, labelSets, classes, count, o.Threads);

        var perClass = new double[classes];
        for (int i = 0; i < m; i++) perClass[lab[i]] += values[0][i];
        for (int c = 0; c < classes; c++) perClass[c] = count[c] > 0 ? perClass[c] / count[c] : double.NaN;
        var means = new double[sets];
        for (int s = 0; s < sets; s++)
        {
            double t = 0;
            foreach (double v in values[s]) t += v;
            means[s] = t / m;
        }
        var shuffled = means[1..];
        var (sm, ssd) = Num.MeanStd(shuffled);
        return new SilhouetteResult
        {
            Mean = means[0], SampleSize = m, PerClassMean = perClass, PerClassCount = count,
            ShuffledMean = sm, ShuffledStd = ssd, ZScore = Num.ZScore(means[0], sm, ssd), Shuffled = shuffled,
        };
    }

    /// <summary>Silhouette of every row (all n rows, no sampling; O(n² dim)).</summary>
    public static double[] Samples(float[] x, int n, int dim, int[] labels, int classes, int threads = 1)
    {
        Guard.Matrix(x, n, dim);
        Guard.Labels(labels, n, classes);
        Guard.Threads(threads, nameof(threads));
        var count = new int[classes];
        foreach (int l in labels) count[l]++;
        int present = 0;
        foreach (int c in count) if (c > 0) present++;
        if (present < 2) throw new ArgumentException($"The silhouette needs at least 2 labels; found {present}.", nameof(labels));
        return SilhouetteValues(Tsne.Centre(x, n, dim), n, dim, [labels], classes, count, threads)[0];
    }

    /// <summary>Silhouettes of all rows under several labellings with the same class sizes, sharing distances.</summary>
    private static double[][] SilhouetteValues(float[] x, int m, int dim, int[][] labelSets, int classes, int[] count, int threads)
    {
        int sets = labelSets.Length;
        var all = new int[m];
        for (int i = 0; i < m; i++) all[i] = i;
        var packed = new PackedRows(x, dim, all);
        var result = new double[sets][];
        for (int s = 0; s < sets; s++) result[s] = new double[m];
        int tiles = (m + 3) / 4;
        Par.For(0, tiles, threads, () => (new float[4 * packed.Padded], new double[sets * classes]), (tile, scratch) =>
        {
            var (buf, sums) = scratch;
            int start = tile * 4, q = Math.Min(4, m - start);
            Span<int> queries = stackalloc int[q];
            for (int t = 0; t < q; t++) queries[t] = start + t;
            DistanceKernels.SquaredDistances(x, dim, queries, packed, buf, packed.Padded);
            for (int t = 0; t < q; t++)
            {
                int i = start + t;
                var d = buf.AsSpan(t * packed.Padded, m);
                d[i] = 0f;
                for (int j = 0; j < m; j++) d[j] = MathF.Sqrt(d[j]);
                Array.Clear(sums);
                for (int s = 0; s < sets; s++)
                {
                    var ls = labelSets[s];
                    int o = s * classes;
                    for (int j = 0; j < m; j++) sums[o + ls[j]] += d[j];
                    int own = ls[i];
                    if (count[own] <= 1) { result[s][i] = 0; continue; }
                    double a = sums[o + own] / (count[own] - 1);
                    double b = double.PositiveInfinity;
                    for (int c = 0; c < classes; c++)
                        if (c != own && count[c] > 0) b = Math.Min(b, sums[o + c] / count[c]);
                    double den = Math.Max(a, b);
                    result[s][i] = den > 0 ? (b - a) / den : 0;
                }
            }
        });
        return result;
    }
}
