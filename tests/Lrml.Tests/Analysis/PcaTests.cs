using Lrml.Analysis;

namespace Lrml.Tests.Analysis;

public class PcaTests
{
    private static readonly double[][] Basis = [[0.6, 0.8, 0], [0, 0, 1], [0.8, -0.6, 0]];
    private static readonly double[] Offset = [10, -3, 7];

    /// <summary>Six points mean ± 5u1, ± 2u2, ± 0.5u3: covariance (n − 1 = 5) is exactly
    /// 10 u1u1ᵀ + 1.6 u2u2ᵀ + 0.1 u3u3ᵀ.</summary>
    private static float[] Star()
    {
        double[] scale = [5, 2, 0.5];
        var x = new float[6 * 3];
        for (int a = 0; a < 3; a++)
            for (int s = 0; s < 2; s++)
                for (int d = 0; d < 3; d++)
                    x[(2 * a + s) * 3 + d] = (float)(Offset[d] + (s == 0 ? 1 : -1) * scale[a] * Basis[a][d]);
        return x;
    }

    [Fact]
    public void RecoversKnownAxesVariancesAndProjections()
    {
        var x = Star();
        var pca = Pca.Fit(x, 6, 3, 3);
        Assert.Equal([10.0, 1.6, 0.1], pca.ExplainedVariance, (a, b) => Math.Abs(a - b) < 1e-5);
        Assert.Equal(11.7, pca.TotalVariance, 1e-5);
        Assert.Equal(10 / 11.7, pca.ExplainedVarianceRatio[0], 1e-6);
        Assert.Equal(1.0, pca.ExplainedVarianceRatio.Sum(), 1e-9);
        for (int d = 0; d < 3; d++) Assert.Equal(Offset[d], pca.Mean[d], 1e-5);
        // Axes are the basis vectors with the sign rule "largest coordinate positive".
        for (int a = 0; a < 3; a++)
            for (int d = 0; d < 3; d++)
                Assert.Equal(Basis[a][d], pca.Components[a * 3 + d], 1e-5);
        var proj = pca.Transform(x, 6);
        Assert.Equal([5f, 0f, 0f], proj[0..3], (a, b) => Math.Abs(a - b) < 1e-4);
        Assert.Equal([0f, -2f, 0f], proj[9..12], (a, b) => Math.Abs(a - b) < 1e-4);
        Assert.Equal([0f, 0f, 0.5f], proj[12..15], (a, b) => Math.Abs(a - b) < 1e-4);
    }

    [Fact]
    public void AxesAreOrthonormalAndRatiosDescendAndReconstructCovariance()
    {
        const int n = 400, dim = 12;
        var x = AnalysisTestData.Noise(n, dim, 5);
        // Give the columns different scales and correlations.
        for (int i = 0; i < n; i++)
            for (int d = 1; d < dim; d++) x[i * dim + d] = x[i * dim + d] * (1 + d) + 0.5f * x[i * dim + d - 1];
        var pca = Pca.Fit(x, n, dim, dim);
        for (int a = 0; a < dim; a++)
            for (int b = 0; b < dim; b++)
            {
                double dot = 0;
                for (int d = 0; d < dim; d++) dot += (double)pca.Components[a * dim + d] * pca.Components[b * dim + d];
                Assert.Equal(a == b ? 1.0 : 0.0, dot, 1e-5);
            }
        for (int c = 1; c < dim; c++) Assert.True(pca.ExplainedVarianceRatio[c] <= pca.ExplainedVarianceRatio[c - 1]);
        Assert.Equal(1.0, pca.ExplainedVarianceRatio.Sum(), 1e-9);
        Assert.True(Pca.Fit(x, n, dim, 4).ExplainedVarianceRatio.Sum() < 1);

        // Σ_c λ_c v_c v_cᵀ equals the covariance computed naively.
        var mean = new double[dim];
        for (int i = 0; i < n; i++) for (int d = 0; d < dim; d++) mean[d] += x[i * dim + d] / (double)n;
        for (int a = 0; a < dim; a++)
            for (int b = 0; b < dim; b++)
            {
                double cov = 0;
                for (int i = 0; i < n; i++) cov += (x[i * dim + a] - mean[a]) * (x[i * dim + b] - mean[b]);
                cov /= n - 1;
                double rec = 0;
                for (int c = 0; c < dim; c++) rec += pca.ExplainedVariance[c] * pca.Components[c * dim + a] * pca.Components[c * dim + b];
                Assert.Equal(cov, rec, 1e-4 * Math.Max(1, Math.Abs(cov)));
            }
        // The variance of the projection on each axis is its eigenvalue.
        var proj = pca.Transform(x, n);
        for (int c = 0; c < 3; c++)
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += (double)proj[i * dim + c] * proj[i * dim + c];
            Assert.Equal(pca.ExplainedVariance[c], s / (n - 1), 1e-3 * pca.ExplainedVariance[c]);
        }
    }

    [Fact]
    public void EigenMatchesHandEigenpairsAndThreadsDoNotChangeTheFit()
    {
        var (values, vectors) = SymmetricEigen.Decompose([2, 1, 1, 2], 2);
        Assert.Equal(3, values[0], 1e-14);
        Assert.Equal(1, values[1], 1e-14);
        Assert.Equal(1, Math.Abs(vectors[0] + vectors[2]) / Math.Sqrt(2), 1e-14); // (1, 1)/√2 up to sign
        Assert.Equal(0, vectors[0] - vectors[2], 1e-14);
        Assert.Equal(0, vectors[1] + vectors[3], 1e-14);                         // (1, −1)/√2 up to sign
        // A diagonal matrix needs no rotation; values come back sorted.
        var (dv, _) = SymmetricEigen.Decompose([1, 0, 0, 0, 5, 0, 0, 0, 3], 3);
        Assert.Equal([5.0, 3.0, 1.0], dv);

        var (x, _) = AnalysisTestData.Blobs(300, 20, 3, 2, 1);
        var a = Pca.Fit(x, 300, 20, 5, threads: 1);
        var b = Pca.Fit(x, 300, 20, 5, threads: 2);
        Assert.Equal(a.Components, b.Components);
        Assert.Equal(a.ExplainedVariance, b.ExplainedVariance);
    }

    [Fact]
    public void ExplainedVarianceOfFourPointsMatchesTheHandComputation()
    {
        // (3, 3), (−3, −3), (1, −1), (−1, 1): mean 0, covariance (n − 1 = 3) [[20, 16], [16, 20]] / 3, whose
        // eigenvalues are (20 ± 16) / 3 = 12 and 4/3 along (1, 1)/√2 and (1, −1)/√2; ratios 0.9 and 0.1.
        float[] x = [3, 3, -3, -3, 1, -1, -1, 1];
        var pca = Pca.Fit(x, 4, 2, 2);
        Assert.Equal(12, pca.ExplainedVariance[0], 1e-12);
        Assert.Equal(4.0 / 3, pca.ExplainedVariance[1], 1e-12);
        Assert.Equal(40.0 / 3, pca.TotalVariance, 1e-12);
        Assert.Equal(0.9, pca.ExplainedVarianceRatio[0], 1e-12);
        Assert.Equal(0.1, pca.ExplainedVarianceRatio[1], 1e-12);
        float r = (float)Math.Sqrt(0.5);
        Assert.Equal([r, r], pca.Components[0..2], (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal(r, Math.Abs(pca.Components[2]), 1e-6);
        Assert.Equal(-pca.Components[2], pca.Components[3], 1e-6);
    }

    [Fact]
    public void RejectsBadInput()
    {
        var x = AnalysisTestData.Noise(10, 3, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Pca.Fit(x, 10, 3, 4));
        Assert.Throws<ArgumentException>(() => Pca.Fit(x, 9, 3, 2));
        Assert.Throws<ArgumentException>(() => Pca.Fit(x[..3], 1, 3, 1));
        x[7] = float.NaN;
        var e = Assert.Throws<ArgumentException>(() => Pca.Fit(x, 10, 3, 2));
        Assert.Contains("row 2, column 1", e.Message);
        Assert.Throws<ArgumentException>(() => SymmetricEigen.Decompose([1, 2, 3, 4], 2));
    }
}
