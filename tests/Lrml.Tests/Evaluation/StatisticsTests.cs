using Lrml.Evaluation;
using Lrml.Util;

namespace Lrml.Tests.Evaluation;

public class StatisticsTests
{
    [Theory]
    [InlineData(-3.0)]
    [InlineData(-0.7)]
    [InlineData(0.0)]
    [InlineData(0.4)]
    [InlineData(1.0)]
    [InlineData(2.5)]
    [InlineData(12.0)]
    public void StudentTCdfMatchesClosedFormsForOneTwoAndThreeDegreesOfFreedom(double t)
    {
        // df = 1 (Cauchy): 1/2 + atan(t)/π;  df = 2: 1/2 + t / (2√(t² + 2));
        // df = 3: 1/2 + (θ + sinθ cosθ)/π with θ = atan(t/√3)
        Assert.Equal(0.5 + Math.Atan(t) / Math.PI, Statistics.StudentTCdf(t, 1), 1e-12);
        Assert.Equal(0.5 + t / (2 * Math.Sqrt(t * t + 2)), Statistics.StudentTCdf(t, 2), 1e-12);
        double th = Math.Atan(t / Math.Sqrt(3));
        Assert.Equal(0.5 + (th + Math.Sin(th) * Math.Cos(th)) / Math.PI, Statistics.StudentTCdf(t, 3), 1e-12);
    }

    [Theory]
    // critical values of Student's t (tables): P(T ≤ t) = p
    [InlineData(2.2281388519649385, 10, 0.975)]
    [InlineData(2.0150483726691575, 5, 0.95)]
    [InlineData(2.0422724563012373, 30, 0.975)]
    [InlineData(2.8453397097861091, 20, 0.995)]
    [InlineData(2.7764451051977987, 4, 0.975)]
    public void StudentTMatchesTableValues(double t, int df, double p)
    {
        Assert.Equal(p, Statistics.StudentTCdf(t, df), 1e-10);
        Assert.Equal(1 - p, Statistics.StudentTCdf(-t, df), 1e-10);
        Assert.Equal(t, Statistics.StudentTQuantile(p, df), 1e-8);
        Assert.Equal(2 * (1 - p), Statistics.StudentTTwoSidedP(t, df), 1e-10);
    }

    [Theory]
    [InlineData(0.975)]
    [InlineData(0.9995)]
    [InlineData(0.99995)]      // df = 1: t = 6366.2, beyond the [−800, 800] bracket of MathNet's StudentT.InvCDF
    [InlineData(0.9999995)]
    public void StudentTQuantileMatchesClosedFormsInTheHeavyTail(double p)
    {
        // df = 1 (Cauchy): t = tan(π(p − ½));  df = 2: t = (2p − 1) / √(2p(1 − p))
        double t1 = Math.Tan(Math.PI * (p - 0.5)), t2 = (2 * p - 1) / Math.Sqrt(2 * p * (1 - p));
        Assert.Equal(t1, Statistics.StudentTQuantile(p, 1), 1e-9 * t1);
        Assert.Equal(-t1, Statistics.StudentTQuantile(1 - p, 1), 1e-9 * t1);
        Assert.Equal(t2, Statistics.StudentTQuantile(p, 2), 1e-9 * t2);
        var s = Statistics.Summarize([1.0, 2.0], 2 * p - 1); // two seeds: mean 1.5, std √½, half-width t_{p,1}·½
        Assert.Equal(1.5 + t1 / 2, s.CiHigh, 1e-9 * t1);
    }

    [Fact]
    public void PairedTTestPValueMatchesTheHandComputation()
    {
        // d = [1, 2, 3]: mean 2, s = 1, t = 2 / (1/√3) = 2√3 = 3.4641; df = 2 closed form p = 1 − t/√(t² + 2)
        // = 1 − 2√3/√14 = 0.0741799. Tables: t_{0.95,2} = 2.920 < 3.464 < t_{0.975,2} = 4.303, so 0.05 < p < 0.10.
        var r = Statistics.PairedTTest([4.0, 6.0, 8.0], [3.0, 4.0, 5.0]);
        Assert.Equal(2 * Math.Sqrt(3), r.T, 1e-12);
        Assert.Equal(1 - 2 * Math.Sqrt(3) / Math.Sqrt(14), r.PValue, 1e-12);
        Assert.Equal(0.0741799, r.PValue, 1e-7);
        Assert.Equal(4.302652729749462, Statistics.StudentTQuantile(0.975, 2), 1e-12);
        Assert.Equal(2.9199855803537242, Statistics.StudentTQuantile(0.95, 2), 1e-12);
    }

    [Fact]
    public void NormalCdfAndLogGammaMatchKnownValues()
    {
        Assert.Equal(0.5, Statistics.NormalCdf(0), 1e-15);
        Assert.Equal(0.8413447460685429, Statistics.NormalCdf(1), 1e-13);
        Assert.Equal(0.9750021048517795, Statistics.NormalCdf(1.96), 1e-13);
        Assert.Equal(0.0013498980316301, Statistics.NormalCdf(-3), 1e-14);
        Assert.Equal(2 * 0.0013498980316301, Statistics.NormalTwoSidedP(3), 1e-14);
        Assert.Equal(0.5723649429247001, Statistics.LogGamma(0.5), 1e-13);        // ln √π
        Assert.Equal(Math.Log(362880), Statistics.LogGamma(10), 1e-12);           // ln 9!
        Assert.Equal(0, Statistics.LogGamma(1), 1e-14);
        Assert.Equal(0.3, Statistics.RegularizedIncompleteBeta(1, 1, 0.3), 1e-14);  // uniform
        Assert.Equal(1 - Math.Pow(0.7, 3), Statistics.RegularizedIncompleteBeta(1, 3, 0.3), 1e-14);
    }

    [Fact]
    public void SummaryGivesMeanStdAndStudentInterval()
    {
        var s = Statistics.Summarize([1, 2, 3, 4, 5]);
        Assert.Equal(3, s.Mean, 1e-14);
        Assert.Equal(Math.Sqrt(2.5), s.Std, 1e-14);
        double half = 2.7764451051977987 * Math.Sqrt(2.5) / Math.Sqrt(5); // t_{0.975,4} · s / √n = 1.963243
        Assert.Equal(3 - half, s.CiLow, 1e-8);
        Assert.Equal(3 + half, s.CiHigh, 1e-8);
        var one = Statistics.Summarize([0.7]);
        Assert.Equal((0.7, 0.7), (one.CiLow, one.CiHigh));
    }

    [Fact]
    public void PairedTTestByHand()
    {
        // d = [0.1, 0.2, -0.1, 0.3]: mean 0.125, Σ(d - mean)² = 0.0875, s = √(0.0875/3), t = 0.125 / (s / 2) = 1.463850
        double[] a = [0.5, 0.7, 0.2, 0.9], b = [0.4, 0.5, 0.3, 0.6];
        var r = Statistics.PairedTTest(a, b);
        double s = Math.Sqrt(0.0875 / 3), t = 0.125 / (s / 2);
        Assert.Equal(0.125, r.MeanDifference, 1e-12);
        Assert.Equal(s, r.StdDifference, 1e-12);
        Assert.Equal(t, r.T, 1e-10);
        Assert.Equal(1.4638501094, r.T, 1e-9);
        Assert.Equal(3, r.DegreesOfFreedom);
        double th = Math.Atan(t / Math.Sqrt(3)); // df = 3 closed form
        Assert.Equal(2 * (1 - (0.5 + (th + Math.Sin(th) * Math.Cos(th)) / Math.PI)), r.PValue, 1e-10);
        Assert.InRange(r.PValue, 0.2, 0.3); // t(3) = 1.46 is not significant
        var same = Statistics.PairedTTest(a, a);
        Assert.Equal((0.0, 1.0), (same.T, same.PValue));
    }

    [Fact]
    public void WilcoxonByHand_TiesAndZeros()
    {
        // d = [1, -2, 2, 3, 0, 4, -1, 5]
        double[] a = [1, 0, 2, 3, 5, 4, 0, 5], b = [0, 2, 0, 0, 5, 0, 1, 0];
        // Wilcox: drop the zero → |d| = 1,2,2,3,4,1,5; ranks 1.5,3.5,3.5,5,6,1.5,7
        // W+ = 1.5 + 3.5 + 5 + 6 + 7 = 23, W- = 5; mean 7·8/4 = 14; var = 7·8·15/24 − 2·(2³−2)/48 = 34.75
        var w = Statistics.WilcoxonSignedRank(a, b, WilcoxonZeroMethod.Wilcox, continuityCorrection: true);
        Assert.Equal(23, w.WPlus);
        Assert.Equal(5, w.WMinus);
        Assert.Equal(1, w.Zeros);
        Assert.Equal(8.5 / Math.Sqrt(34.75), w.Z, 1e-12);
        Assert.Equal(2 * (1 - Statistics.NormalCdf(w.Z)), w.PValue, 1e-12);
        var noCorr = Statistics.WilcoxonSignedRank(a, b, WilcoxonZeroMethod.Wilcox, continuityCorrection: false);
        Assert.Equal(9 / Math.Sqrt(34.75), noCorr.Z, 1e-12);
        // Pratt: rank with the zero (rank 1), drop it → W+ = 2.5 + 4.5 + 6 + 7 + 8 = 28;
        // mean = (8·9 − 1·2)/4 = 17.5; var = (8·9·17 − 1·2·3)/24 − 12/48 = 50.5
        var p = Statistics.WilcoxonSignedRank(a, b, WilcoxonZeroMethod.Pratt, continuityCorrection: true);
        Assert.Equal(28, p.WPlus);
        Assert.Equal(10 / Math.Sqrt(50.5), p.Z, 1e-12);
        var none = Statistics.WilcoxonSignedRank(a, a);
        Assert.Equal((0.0, 1.0), (none.Z, none.PValue));
    }

    [Fact]
    public void BootstrapIsSeeded_DegeneratesForConstantDifferences_AndAgreesWithTheTInterval()
    {
        double[] a = [0.3, 0.3, 0.3], b = [0.1, 0.1, 0.1];
        var c = Statistics.PairedBootstrap(a, b, seed: 1, resamples: 500);
        Assert.Equal(0.2, c.CiLow, 1e-12);
        Assert.Equal(0.2, c.CiHigh, 1e-12);

        var rng = new Rng(3, "bootstrap-test");
        var x = Enumerable.Range(0, 400).Select(_ => rng.NextGaussian() * 0.2 + 0.05).ToArray();
        var y = new double[x.Length];
        var r1 = Statistics.PairedBootstrap(x, y, seed: 7, resamples: 4000);
        var r2 = Statistics.PairedBootstrap(x, y, seed: 7, resamples: 4000);
        var r3 = Statistics.PairedBootstrap(x, y, seed: 8, resamples: 4000);
        Assert.Equal(r1, r2);
        Assert.NotEqual(r1.CiLow, r3.CiLow);
        var t = Statistics.Summarize(x);
        Assert.Equal(t.Mean, r1.MeanDifference, 1e-12);
        Assert.InRange(r1.CiLow, t.CiLow - 0.005, t.CiLow + 0.005);   // half width ≈ 0.02
        Assert.InRange(r1.CiHigh, t.CiHigh - 0.005, t.CiHigh + 0.005);
    }
}
