using Lrml.Analysis;

namespace Lrml.Tests.Analysis;

public class SilhouetteTests
{
    [Fact]
    public void FourPointsByHand()
    {
        // {0, 1} vs {4, 6}: s = (5−1)/5, (4−1)/4, (3.5−2)/3.5, (5.5−2)/5.5
        float[] x = [0, 1, 4, 6];
        int[] labels = [0, 0, 1, 1];
        double[] expected = [0.8, 0.75, 1.5 / 3.5, 3.5 / 5.5];
        var s = Silhouette.Samples(x, 4, 1, labels, 2);
        Assert.Equal(expected, s, (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal(expected.Average(), Silhouette.Score(x, 4, 1, labels), 1e-6);
    }

    [Fact]
    public void NearestOtherClusterAndSingletons()
    {
        // {0, 1}, {5} (singleton → 0), {9, 10}; b is the nearest other cluster's mean distance.
        float[] x = [0, 1, 5, 9, 10];
        int[] labels = [0, 0, 1, 2, 2];
        var s = Silhouette.Samples(x, 5, 1, labels, 3);
        Assert.Equal([0.8, 0.75, 0, 0.75, 0.8], s, (a, b) => Math.Abs(a - b) < 1e-6);
        var r = Silhouette.Evaluate(x, 5, 1, labels, 4, new SilhouetteOptions { Shuffles = 0 });
        Assert.Equal(3.1 / 5, r.Mean, 1e-6);
        Assert.Equal(0.775, r.PerClassMean[0], 1e-6);
        Assert.Equal(0, r.PerClassMean[1], 1e-12);
        Assert.True(double.IsNaN(r.PerClassMean[3])); // label 3 is absent
        Assert.Equal([2, 1, 2, 0], r.PerClassCount);
    }

    [Fact]
    public void MultiDimensionalMatchesNaiveComputationAndShuffledBaselineIsNearZero()
    {
        const int n = 150, dim = 7;
        var (x, y) = AnalysisTestData.Blobs(n, dim, 3, 3.0, 3);
        var s = Silhouette.Samples(x, n, dim, y, 3, threads: 2);
        for (int i = 0; i < n; i += 13)
        {
            var sum = new double[3]; var cnt = new int[3];
            for (int j = 0; j < n; j++)
            {
                if (j == i) continue;
                double d = 0;
                for (int c = 0; c < dim; c++) d += Math.Pow(x[i * dim + c] - x[j * dim + c], 2);
                sum[y[j]] += Math.Sqrt(d); cnt[y[j]]++;
            }
            double a = sum[y[i]] / cnt[y[i]];
            double b = Enumerable.Range(0, 3).Where(c => c != y[i]).Min(c => sum[c] / cnt[c]);
            Assert.Equal((b - a) / Math.Max(a, b), s[i], 1e-5);
        }
        var r = Silhouette.Evaluate(x, n, dim, y, 3, new SilhouetteOptions { Shuffles = 10, Seed = 1 });
        Assert.Equal(s.Average(), r.Mean, 1e-9);
        Assert.True(r.Mean > 0.3);
        Assert.InRange(r.ShuffledMean, -0.05, 0.02);
        Assert.True(r.ZScore > 10);
    }

    [Fact]
    public void LargeInputsAreSampledDeterministically()
    {
        const int n = 900, dim = 4;
        var (x, y) = AnalysisTestData.Blobs(n, dim, 3, 2, 5);
        var a = Silhouette.Evaluate(x, n, dim, y, 3, new SilhouetteOptions { SampleSize = 200, Seed = 4, Shuffles = 3 });
        var b = Silhouette.Evaluate(x, n, dim, y, 3, new SilhouetteOptions { SampleSize = 200, Seed = 4, Shuffles = 3, Threads = 2 });
        Assert.Equal(200, a.SampleSize);
        Assert.Equal(a.Mean, b.Mean);
        Assert.Equal(a.Shuffled, b.Shuffled);
        double full = Silhouette.Samples(x, n, dim, y, 3).Average();
        Assert.Equal(full, a.Mean, 0.05);
        Assert.NotEqual(a.Mean, Silhouette.Evaluate(x, n, dim, y, 3, new SilhouetteOptions { SampleSize = 200, Seed = 5 }).Mean);
    }

    [Fact]
    public void NeedsTwoLabels()
    {
        Assert.Throws<ArgumentException>(() => Silhouette.Score([0, 1, 2], 3, 1, [0, 0, 0]));
    }
}
