using Lrml.Util;

namespace Lrml.Tests.Analysis;

/// <summary>Synthetic data for the analysis tests.</summary>
internal static class AnalysisTestData
{
    /// <summary>Gaussian blobs: class i % classes, centre ~ N(0, sep²) per coordinate, unit noise.</summary>
    public static (float[] X, int[] Labels) Blobs(int n, int dim, int classes, double sep, long seed)
    {
        var rng = new Rng(seed, "test.blobs");
        var centres = new double[classes * dim];
        for (int i = 0; i < centres.Length; i++) centres[i] = rng.NextGaussian() * sep;
        var x = new float[n * dim];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = i % classes;
            for (int d = 0; d < dim; d++) x[i * dim + d] = (float)(centres[y[i] * dim + d] + rng.NextGaussian());
        }
        return (x, y);
    }

    /// <summary>i.i.d. standard normal matrix.</summary>
    public static float[] Noise(int n, int dim, long seed)
    {
        var rng = new Rng(seed, "test.noise");
        var x = new float[n * dim];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextGaussian();
        return x;
    }

    /// <summary>Uniform labels in [0, classes).</summary>
    public static int[] RandomLabels(int n, int classes, long seed)
    {
        var rng = new Rng(seed, "test.labels");
        var y = new int[n];
        for (int i = 0; i < n; i++) y[i] = rng.NextInt(classes);
        return y;
    }
}
