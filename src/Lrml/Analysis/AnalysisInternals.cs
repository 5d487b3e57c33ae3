using System.Numerics;

namespace Lrml.Analysis;

/// <summary>Argument checks shared by the analysis toolkit: every bad input fails early with a message that
/// names the argument, the row and the reason, never with a bare index error from inside a kernel.</summary>
internal static class Guard
{
    /// <summary>Checks a row-major n × dim matrix: sizes, and that every value is finite.</summary>
    public static void Matrix(float[] x, int n, int dim, string name = "x")
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "n must not be negative.");
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), dim, "dim must be at least 1.");
        if ((long)n * dim != x.Length)
            throw new ArgumentException($"{name} has {x.Length} values but n × dim = {n} × {dim} = {(long)n * dim}.", name);
        int bad = FirstNonFinite(x);
        if (bad >= 0)
            throw new ArgumentException($"{name} row {bad / dim}, column {bad % dim} is {x[bad]} (values must be finite).", name);
    }

    /// <summary>Checks labels: length n and every value in [0, classes).</summary>
    public static void Labels(int[] labels, int n, int classes, string name = "labels")
    {
        ArgumentNullException.ThrowIfNull(labels, name);
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be at least 1.");
        if (labels.Length != n) throw new ArgumentException($"{name} has {labels.Length} entries but n = {n}.", name);
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentException($"{name}[{i}] = {labels[i]} is outside [0, {classes}).", name);
    }

    /// <summary>Checks continuous targets: length n and finite.</summary>
    public static void Targets(double[] targets, int n, string name = "targets")
    {
        ArgumentNullException.ThrowIfNull(targets, name);
        if (targets.Length != n) throw new ArgumentException($"{name} has {targets.Length} entries but n = {n}.", name);
        for (int i = 0; i < targets.Length; i++)
            if (!double.IsFinite(targets[i])) throw new ArgumentException($"{name}[{i}] = {targets[i]} (values must be finite).", name);
    }

    /// <summary>Checks a thread count.</summary>
    public static void Threads(int threads, string name = "Threads")
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(name, threads, "The thread count must be at least 1.");
    }

    private static int FirstNonFinite(float[] x)
    {
        // Vectorised scan: v - v is 0 for finite v and NaN for ±∞ and NaN.
        int w = Vector<float>.Count, i = 0;
        var span = x.AsSpan();
        for (; i + w <= span.Length; i += w)
        {
            var v = new Vector<float>(span.Slice(i, w));
            var d = v - v;
            if (!Vector.EqualsAll(d, Vector<float>.Zero))
                for (int j = i; j < i + w; j++) if (!float.IsFinite(span[j])) return j;
        }
        for (; i < span.Length; i++) if (!float.IsFinite(span[i])) return i;
        return -1;
    }
}

/// <summary>Small numeric helpers.</summary>
internal static class Num
{
    /// <summary>Mean and sample standard deviation (n − 1; 0 for fewer than two values).</summary>
    public static (double Mean, double Std) MeanStd(ReadOnlySpan<double> v)
    {
        if (v.Length == 0) return (double.NaN, double.NaN);
        double s = 0;
        foreach (double a in v) s += a;
        double m = s / v.Length;
        if (v.Length < 2) return (m, 0);
        double q = 0;
        foreach (double a in v) q += (a - m) * (a - m);
        return (m, Math.Sqrt(q / (v.Length - 1)));
    }

    /// <summary>(observed − mean) / std, signed so that positive means "observed is larger"; 0 when both are
    /// equal and the spread is zero, ±∞ when only the spread is zero, NaN when no baseline was drawn.</summary>
    public static double ZScore(double observed, double mean, double std)
    {
        if (double.IsNaN(mean) || double.IsNaN(observed)) return double.NaN;
        double diff = observed - mean;
        if (std > 0) return diff / std;
        if (diff == 0) return 0;
        return diff > 0 ? double.PositiveInfinity : double.NegativeInfinity;
    }

    /// <summary>Permutation-test p-value (1 + #{baseline ≥ observed}) / (1 + count), or NaN without a baseline.</summary>
    public static double UpperPValue(double observed, ReadOnlySpan<double> baseline)
    {
        if (baseline.Length == 0) return double.NaN;
        int ge = 0;
        foreach (double b in baseline) if (b >= observed) ge++;
        return (1.0 + ge) / (1.0 + baseline.Length);
    }
}
