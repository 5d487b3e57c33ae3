namespace Lrml.Analysis;

/// <summary>Correlation coefficients between two equally long samples.</summary>
internal static class Correlation
{
    /// <summary>Pearson's product-moment correlation (NaN when either sample is constant or has fewer than 2 values).</summary>
    public static double Pearson(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Samples differ in length ({a.Length} vs {b.Length}).", nameof(b));
        int n = a.Length;
        if (n < 2) return double.NaN;
        double ma = 0, mb = 0;
        for (int i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
        ma /= n; mb /= n;
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < n; i++)
        {
            double da = a[i] - ma, db = b[i] - mb;
            sab += da * db; saa += da * da; sbb += db * db;
        }
        if (saa == 0 || sbb == 0) return double.NaN;
        return Math.Clamp(sab / Math.Sqrt(saa * sbb), -1.0, 1.0);
    }

    /// <summary>Spearman's rank correlation: Pearson correlation of the ranks, tied values sharing their average rank
    /// (NaN when either sample is constant).</summary>
    public static double Spearman(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Samples differ in length ({a.Length} vs {b.Length}).", nameof(b));
        return Pearson(Ranks(a), Ranks(b));
    }

    /// <summary>1-based ranks with ties given their average rank (e.g. [10, 20, 20, 30] → [1, 2.5, 2.5, 4]).</summary>
    public static double[] Ranks(ReadOnlySpan<double> x)
    {
        int n = x.Length;
        var order = new int[n];
        var keys = x.ToArray();
        for (int i = 0; i < n; i++)
        {
            if (double.IsNaN(keys[i])) throw new ArgumentException($"Value {i} is NaN; ranks need ordered values.", nameof(x));
            order[i] = i;
        }
        Array.Sort(keys, order);
        var ranks = new double[n];
        for (int s = 0; s < n;)
        {
            int e = s + 1;
            while (e < n && keys[e] == keys[s]) e++;
            double r = (s + e + 1) / 2.0; // mean of 1-based ranks s+1 .. e
            for (int t = s; t < e; t++) ranks[order[t]] = r;
            s = e;
        }
        return ranks;
    }
}
