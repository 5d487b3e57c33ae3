using Lrml.Analysis;
using Lrml.Util;

namespace Lrml.Tests.Analysis;

public class TsneTests
{
    [Fact]
    public void ConditionalRowsHaveTheTargetEntropyAndTheGaussianShape()
    {
        const int n = 200, dim = 5;
        var x = AnalysisTestData.Noise(n, dim, 3);
        foreach (double perplexity in new[] { 5.0, 30.0 })
        {
            var aff = Tsne.ConditionalAffinities(x, n, dim, perplexity);
            double target = Math.Log(perplexity);
            for (int i = 0; i < n; i++)
            {
                double h = 0, sum = 0;
                for (int j = 0; j < n; j++)
                {
                    double p = aff.Conditional[i * n + j];
                    sum += p;
                    if (p > 0) h -= p * Math.Log(p);
                }
                Assert.Equal(0, aff.Conditional[i * n + i]);
                Assert.Equal(1, sum, 1e-5);
                Assert.Equal(target, h, 1e-4);
                Assert.Equal(h, aff.Entropy[i], 1e-9);
            }
            // ln(p_j|i / p_k|i) = −β_i (d_ij² − d_ik²) for a pair of entries of row 7.
            int r = 7, a = 3, b = 150;
            double da = 0, db = 0;
            for (int d = 0; d < dim; d++)
            {
                da += Math.Pow(x[r * dim + d] - x[a * dim + d], 2);
                db += Math.Pow(x[r * dim + d] - x[b * dim + d], 2);
            }
            double lhs = Math.Log(aff.Conditional[r * n + a] / (double)aff.Conditional[r * n + b]);
            Assert.Equal(-aff.Beta[r] * (da - db), lhs, 1e-3 * Math.Max(1, Math.Abs(lhs)));
        }
    }

    [Fact]
    public void JointAffinitiesAreTheSymmetrisedConditionals()
    {
        const int n = 60;
        var x = AnalysisTestData.Noise(n, 4, 8);
        var aff = Tsne.ConditionalAffinities(x, n, 4, 10);
        var p = Tsne.JointAffinities(aff);
        double sum = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                sum += p[i * n + j];
                Assert.Equal(p[i * n + j], p[j * n + i]);
                double expected = (aff.Conditional[i * n + j] + (double)aff.Conditional[j * n + i]) / (2.0 * n);
                Assert.Equal(expected, p[i * n + j], 1e-9);
            }
        Assert.Equal(1, sum, 1e-5);
    }

    [Fact]
    public void KlDivergenceMatchesTheDefinitionAndGradientMatchesFiniteDifferences()
    {
        const int n = 7;
        var rng = new Rng(11, "test.tsne.kl");
        // Random symmetric P with zero diagonal, summing to 1; random positions.
        var p = new float[n * n];
        double total = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) { float v = (float)(0.05 + rng.NextDouble()); p[i * n + j] = v; p[j * n + i] = v; total += 2 * v; }
        for (int k = 0; k < p.Length; k++) p[k] = (float)(p[k] / total);
        var y = new float[2 * n];
        for (int k = 0; k < y.Length; k++) y[k] = (float)(2 * rng.NextGaussian());

        double Definition(float[] pos)
        {
            double z = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (i != j) z += 1 / (1 + Math.Pow(pos[2 * i] - pos[2 * j], 2) + Math.Pow(pos[2 * i + 1] - pos[2 * j + 1], 2));
            double kl = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    if (i == j) continue;
                    double q = 1 / (1 + Math.Pow(pos[2 * i] - pos[2 * j], 2) + Math.Pow(pos[2 * i + 1] - pos[2 * j + 1], 2)) / z;
                    kl += p[i * n + j] * Math.Log(p[i * n + j] / q);
                }
            return kl;
        }

        Assert.Equal(Definition(y), Tsne.KlDivergence(p, y, n), 1e-5);
        var g = Tsne.KlGradient(p, y, n);
        const float h = 1e-2f;
        for (int k = 0; k < y.Length; k++)
        {
            var plus = (float[])y.Clone(); plus[k] += h;
            var minus = (float[])y.Clone(); minus[k] -= h;
            double fd = (Definition(plus) - Definition(minus)) / (plus[k] - minus[k]);
            Assert.Equal(fd, g[k], 2e-3 + 1e-2 * Math.Abs(fd));
        }
    }

    [Fact]
    public void SeparatedClustersStaySeparatedAndKlDecreases()
    {
        const int n = 300, dim = 20;
        var (x, labels) = AnalysisTestData.Blobs(n, dim, 4, 2.0, 21);
        var r = Tsne.Fit(x, n, dim, new TsneOptions { Perplexity = 20, Iterations = 400, EarlyExaggerationIterations = 150, KlEvery = 50 });
        Assert.Equal(2 * n, r.Embedding.Length);
        Assert.All(r.Embedding, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(Math.Max(n / 12.0 / 4.0, 50.0), r.LearningRate);
        Assert.True(r.MaxEntropyError < 1e-4);
        // KL after the exaggeration phase goes down, and the final value matches an independent evaluation.
        int after = Array.IndexOf(r.KlIterations, 200);
        Assert.True(after >= 0);
        Assert.True(r.FinalKl < r.KlValues[after], $"final {r.FinalKl} vs {r.KlValues[after]}");
        Assert.True(r.KlValues[after] < r.KlValues[0]);
        Assert.Equal(400, r.KlIterations[^1]);
        var aff = Tsne.ConditionalAffinities(x, n, dim, 20);
        Assert.Equal(r.FinalKl, Tsne.KlDivergence(Tsne.JointAffinities(aff), r.Embedding, n), 1e-4);

        // Leave-one-out 5-NN in the 2-D embedding recovers the clusters.
        var loo = new int[n];
        for (int i = 0; i < n; i++) loo[i] = i;
        var probe = KnnProbe.Classify(r.Embedding, n, 2, labels, 4, loo, new KnnOptions { K = 5, Shuffles = 0 });
        Assert.True(probe.Accuracy >= 0.99, $"accuracy {probe.Accuracy}");
        Assert.True(Silhouette.Score(r.Embedding, n, 2, labels) > 0.5);
    }

    [Fact]
    public void SameSeedGivesIdenticalOutputForAnyThreadCount()
    {
        const int n = 120, dim = 8;
        var (x, _) = AnalysisTestData.Blobs(n, dim, 3, 1.0, 4);
        var o = new TsneOptions { Perplexity = 10, Iterations = 120, EarlyExaggerationIterations = 50, PcaInit = false, Seed = 9 };
        var a = Tsne.Embed(x, n, dim, o);
        var b = Tsne.Embed(x, n, dim, o);
        var c = Tsne.Embed(x, n, dim, o with { Threads = 2 });
        var d = Tsne.Embed(x, n, dim, o with { Seed = 10 });
        Assert.Equal(a, b);
        Assert.Equal(a, c);
        Assert.NotEqual(a, d);
        var pa = Tsne.Embed(x, n, dim, o with { PcaInit = true });
        var pb = Tsne.Embed(x, n, dim, o with { PcaInit = true, Seed = 10, Threads = 2 });
        Assert.Equal(pa, pb); // PCA initialisation does not use the seed
    }

    [Fact]
    public void RejectsBadSettings()
    {
        var x = AnalysisTestData.Noise(20, 3, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tsne.Embed(x, 20, 3, new TsneOptions { Perplexity = 19 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tsne.Embed(x, 20, 3, new TsneOptions { Perplexity = 5, Iterations = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tsne.Embed(x, 20, 3, new TsneOptions { Perplexity = 5, LearningRate = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tsne.Embed(x, 20, 3, new TsneOptions { Perplexity = 5, Threads = 0 }));
        Assert.Throws<ArgumentException>(() => Tsne.Embed(x[..6], 2, 3));
    }
}
