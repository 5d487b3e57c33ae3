using Lrml.Util;
using MathNet.Numerics;
using MathNet.Numerics.Distributions;

namespace Lrml.Evaluation;

/// <summary>Mean, spread and confidence interval of a sample.</summary>
/// <param name="N">Sample size.</param>
/// <param name="Mean">Arithmetic mean.</param>
/// <param name="Std">Sample standard deviation (n − 1 denominator; 0 when N = 1).</param>
/// <param name="CiLow">Lower end of the Student-t confidence interval of the mean.</param>
/// <param name="CiHigh">Upper end of the Student-t confidence interval of the mean.</param>
/// <param name="Confidence">Confidence level of the interval (e.g. 0.95).</param>
internal sealed record Summary(int N, double Mean, double Std, double CiLow, double CiHigh, double Confidence);

/// <summary>Paired Student t-test of mean(a − b) = 0.</summary>
/// <param name="N">Number of pairs.</param>
/// <param name="MeanDifference">Mean of a − b.</param>
/// <param name="StdDifference">Sample standard deviation of a − b.</param>
/// <param name="T">t statistic = mean / (std / √n).</param>
/// <param name="DegreesOfFreedom">n − 1.</param>
/// <param name="PValue">Two-sided p-value.</param>
internal sealed record PairedTTestResult(int N, double MeanDifference, double StdDifference, double T, int DegreesOfFreedom, double PValue);

/// <summary>How the Wilcoxon signed-rank test treats zero differences.</summary>
internal enum WilcoxonZeroMethod
{
    /// <summary>Drop zero differences before ranking (Wilcoxon's original proposal).</summary>
    Wilcox,
    /// <summary>Rank zero differences with the others, then drop their ranks (Pratt 1959); mean and variance are
    /// corrected for the dropped ranks.</summary>
    Pratt,
}

/// <summary>Wilcoxon signed-rank test of a − b (normal approximation).</summary>
/// <param name="N">Number of pairs.</param>
/// <param name="Zeros">Pairs with a − b = 0.</param>
/// <param name="WPlus">Sum of ranks of positive differences.</param>
/// <param name="WMinus">Sum of ranks of negative differences.</param>
/// <param name="Z">Standardised W+ (positive when a tends to exceed b).</param>
/// <param name="PValue">Two-sided p-value from the normal approximation.</param>
internal sealed record WilcoxonResult(int N, int Zeros, double WPlus, double WMinus, double Z, double PValue);

/// <summary>Paired bootstrap of the mean difference.</summary>
/// <param name="MeanDifference">Observed mean of a − b.</param>
/// <param name="CiLow">Lower percentile bound.</param>
/// <param name="CiHigh">Upper percentile bound.</param>
/// <param name="Resamples">Number of bootstrap resamples.</param>
/// <param name="Confidence">Confidence level.</param>
internal sealed record BootstrapResult(double MeanDifference, double CiLow, double CiHigh, int Resamples, double Confidence);

/// <summary>
/// Statistics for comparing models over per-user metric values (e.g. <see cref="EvaluationResult.PerUser"/> of two
/// models on the same users) and over seeds: summaries with Student-t confidence intervals, the paired t-test, the
/// Wilcoxon signed-rank test and a seeded paired bootstrap. The distributions come from MathNet.Numerics.
/// </summary>
internal static class Statistics
{
    /// <summary>Arithmetic mean (NaN for an empty sample).</summary>
    public static double Mean(ReadOnlySpan<double> x)
    {
        if (x.IsEmpty) return double.NaN;
        double s = 0;
        foreach (double v in x) s += v;
        return s / x.Length;
    }

    /// <summary>Sample standard deviation with the n − 1 denominator (0 for one value, NaN for none).</summary>
    public static double SampleStd(ReadOnlySpan<double> x)
    {
        if (x.IsEmpty) return double.NaN;
        if (x.Length == 1) return 0;
        double m = Mean(x), ss = 0;
        foreach (double v in x) ss += (v - m) * (v - m);
        return Math.Sqrt(ss / (x.Length - 1));
    }

    /// <summary>Mean, sample std and the Student-t confidence interval mean ± t_{(1+c)/2, n−1} · std / √n.
    /// With one value the interval is the value itself.</summary>
    public static Summary Summarize(ReadOnlySpan<double> x, double confidence = 0.95)
    {
        if (x.IsEmpty) throw new ArgumentException("Cannot summarise an empty sample.", nameof(x));
        CheckConfidence(confidence);
        double m = Mean(x), s = SampleStd(x);
        if (x.Length == 1) return new Summary(1, m, 0, m, m, confidence);
        double half = StudentTQuantile((1 + confidence) / 2, x.Length - 1) * s / Math.Sqrt(x.Length);
        return new Summary(x.Length, m, s, m - half, m + half, confidence);
    }

    /// <summary>Paired t-test of mean(a − b) = 0 with a two-sided p-value from the Student t distribution.
    /// When all differences are equal the statistic is ±∞ (p = 0) unless they are all 0 (t = 0, p = 1).</summary>
    public static PairedTTestResult PairedTTest(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var d = Differences(a, b);
        if (d.Length < 2) throw new ArgumentException("A paired t-test needs at least 2 pairs.");
        double m = Mean(d), s = SampleStd(d);
        int df = d.Length - 1;
        double t;
        if (s == 0) t = m == 0 ? 0 : Math.CopySign(double.PositiveInfinity, m);
        else t = m / (s / Math.Sqrt(d.Length));
        double p = double.IsInfinity(t) ? 0 : StudentTTwoSidedP(t, df);
        return new PairedTTestResult(d.Length, m, s, t, df, p);
    }

    /// <summary>
    /// Wilcoxon signed-rank test of a − b with the normal approximation: absolute differences are ranked with
    /// average ranks for ties; the variance n(n+1)(2n+1)/24 is reduced by Σ(t³ − t)/48 over tie groups; zeros are
    /// handled by <paramref name="zeroMethod"/>; the optional continuity correction moves |W+ − mean| towards 0 by ½.
    /// When no non-zero difference remains, Z = 0 and p = 1.
    /// </summary>
    public static WilcoxonResult WilcoxonSignedRank(ReadOnlySpan<double> a, ReadOnlySpan<double> b,
        WilcoxonZeroMethod zeroMethod = WilcoxonZeroMethod.Wilcox, bool continuityCorrection = true)
    {
        var d = Differences(a, b);
        int zeros = 0;
        foreach (double v in d) if (v == 0) zeros++;
        var abs = new List<(double Abs, double Sign)>(d.Length);
        foreach (double v in d)
            if (v != 0 || zeroMethod == WilcoxonZeroMethod.Pratt) abs.Add((Math.Abs(v), Math.Sign(v)));
        abs.Sort((x, y) => x.Abs.CompareTo(y.Abs));
        int n = abs.Count;
        double wPlus = 0, wMinus = 0, tieTerm = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && abs[j + 1].Abs == abs[i].Abs) j++;
            double rank = (i + j) / 2.0 + 1; // average of ranks i+1 .. j+1
            int t = j - i + 1;
            bool zeroGroup = abs[i].Abs == 0;
            if (t > 1 && !zeroGroup) tieTerm += (double)t * t * t - t;
            for (int q = i; q <= j; q++)
            {
                if (abs[q].Sign > 0) wPlus += rank; else if (abs[q].Sign < 0) wMinus += rank;
            }
            i = j + 1;
        }
        double mean, variance;
        int n0 = zeroMethod == WilcoxonZeroMethod.Pratt ? zeros : 0;
        mean = (n * (n + 1.0) - n0 * (n0 + 1.0)) / 4.0;
        variance = (n * (n + 1.0) * (2.0 * n + 1) - n0 * (n0 + 1.0) * (2.0 * n0 + 1)) / 24.0 - tieTerm / 48.0;
        if (n - n0 == 0 || variance <= 0) return new WilcoxonResult(d.Length, zeros, wPlus, wMinus, 0, 1);
        double diff = wPlus - mean;
        if (continuityCorrection) diff = Math.Sign(diff) * Math.Max(0, Math.Abs(diff) - 0.5);
        double z = diff / Math.Sqrt(variance);
        return new WilcoxonResult(d.Length, zeros, wPlus, wMinus, z, NormalTwoSidedP(z));
    }

    /// <summary>
    /// Paired bootstrap confidence interval of mean(a − b): <paramref name="resamples"/> resamples of the n pairs with
    /// replacement (Rng stream "statistics/bootstrap"), percentile interval with linear interpolation.
    /// </summary>
    public static BootstrapResult PairedBootstrap(ReadOnlySpan<double> a, ReadOnlySpan<double> b, long seed,
        int resamples = 10_000, double confidence = 0.95)
    {
        var d = Differences(a, b);
        if (d.Length == 0) throw new ArgumentException("The bootstrap needs at least one pair.");
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples));
        CheckConfidence(confidence);
        var rng = new Rng(seed, "statistics/bootstrap");
        var means = new double[resamples];
        int n = d.Length;
        for (int r = 0; r < resamples; r++)
        {
            double s = 0;
            for (int j = 0; j < n; j++) s += d[rng.NextInt(n)];
            means[r] = s / n;
        }
        Array.Sort(means);
        double alpha = 1 - confidence;
        return new BootstrapResult(Mean(d), Percentile(means, alpha / 2), Percentile(means, 1 - alpha / 2), resamples, confidence);
    }

    /// <summary>Percentile of a sorted sample with linear interpolation between order statistics (p in [0, 1]).</summary>
    public static double Percentile(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.IsEmpty) throw new ArgumentException("Empty sample.", nameof(sorted));
        double h = (sorted.Length - 1) * Math.Clamp(p, 0, 1);
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    // ------------------------------------------------------------------------------------- distributions
    // MathNet.Numerics computes the distributions and special functions; the kit adds its argument checks (a clear
    // error or NaN instead of MathNet's exceptions for NaN and edge arguments) and keeps its own t quantile.

    /// <summary>Student t CDF P(T ≤ t) with <paramref name="df"/> degrees of freedom.</summary>
    public static double StudentTCdf(double t, double df)
    {
        CheckDegreesOfFreedom(df);
        return double.IsNaN(t) ? double.NaN : StudentT.CDF(0, 1, df, t);
    }

    /// <summary>Two-sided p-value P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2), exact in the far tail (no 1 − CDF).</summary>
    public static double StudentTTwoSidedP(double t, double df)
    {
        CheckDegreesOfFreedom(df);
        if (double.IsNaN(t)) return double.NaN;
        return double.IsInfinity(t) ? 0 : SpecialFunctions.BetaRegularized(df / 2, 0.5, df / (df + t * t));
    }

    /// <summary>Quantile of the Student t distribution (inverse CDF), by bisection on <see cref="StudentTCdf"/> to
    /// machine precision.</summary>
    /// <remarks>Kept instead of MathNet's <c>StudentT.InvCDF</c>: that one searches the root only in [−800, 800] with
    /// tolerance 1e-12 and throws NonConvergenceException beyond it, e.g. for df = 1 and p = 0.99995 (a 99.99 %
    /// interval from two seeds, t = 6366.2).</remarks>
    public static double StudentTQuantile(double p, double df)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), "p must be in (0, 1).");
        CheckDegreesOfFreedom(df);
        if (p == 0.5) return 0;
        if (p < 0.5) return -StudentTQuantile(1 - p, df);
        double lo = 0, hi = 1;
        while (StudentTCdf(hi, df) < p) { lo = hi; hi *= 2; if (hi > 1e300) return double.PositiveInfinity; }
        for (int it = 0; it < 200 && hi - lo > 1e-15 * Math.Max(1, hi); it++)
        {
            double mid = 0.5 * (lo + hi);
            if (StudentTCdf(mid, df) < p) lo = mid; else hi = mid;
        }
        return 0.5 * (lo + hi);
    }

    /// <summary>Standard normal CDF Φ(z).</summary>
    public static double NormalCdf(double z) => double.IsNaN(z) ? double.NaN : Normal.CDF(0, 1, z);

    /// <summary>Two-sided normal p-value P(|Z| ≥ |z|) = erfc(|z|/√2), accurate in the far tail.</summary>
    public static double NormalTwoSidedP(double z) => double.IsNaN(z) ? double.NaN : SpecialFunctions.Erfc(Math.Abs(z) / Math.Sqrt(2));

    /// <summary>Regularised incomplete beta function I_x(a, b) (0 for x ≤ 0, 1 for x ≥ 1).</summary>
    public static double RegularizedIncompleteBeta(double a, double b, double x)
    {
        if (!(a > 0 && b > 0)) throw new ArgumentOutOfRangeException(nameof(a), "a and b must be positive.");
        if (double.IsNaN(x)) return double.NaN;
        return x <= 0 ? 0 : x >= 1 ? 1 : SpecialFunctions.BetaRegularized(a, b, x);
    }

    /// <summary>Upper regularised incomplete gamma Q(a, x) = Γ(a, x)/Γ(a) (1 for x ≤ 0).</summary>
    public static double RegularizedGammaQ(double a, double x)
    {
        if (!(a > 0)) throw new ArgumentOutOfRangeException(nameof(a));
        if (double.IsNaN(x)) return double.NaN;
        return x <= 0 ? 1 : double.IsPositiveInfinity(x) ? 0 : SpecialFunctions.GammaUpperRegularized(a, x);
    }

    /// <summary>ln Γ(x) for x &gt; 0.</summary>
    public static double LogGamma(double x) =>
        x > 0 ? SpecialFunctions.GammaLn(x) : throw new ArgumentOutOfRangeException(nameof(x), "LogGamma needs x > 0.");

    private static void CheckDegreesOfFreedom(double df)
    {
        if (!(df > 0)) throw new ArgumentOutOfRangeException(nameof(df), "Degrees of freedom must be positive.");
    }

    private static double[] Differences(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Paired samples differ in length ({a.Length} vs {b.Length}).");
        var d = new double[a.Length];
        for (int j = 0; j < d.Length; j++)
        {
            d[j] = a[j] - b[j];
            if (double.IsNaN(d[j])) throw new ArgumentException($"Pair {j} contains NaN.");
        }
        return d;
    }

    private static void CheckConfidence(double c)
    {
        if (!(c > 0 && c < 1)) throw new ArgumentOutOfRangeException(nameof(c), "Confidence must be in (0, 1).");
    }
}
