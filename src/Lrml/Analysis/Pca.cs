using System.Numerics.Tensors;
using Lrml.Util;
using MathNet.Numerics.LinearAlgebra;

namespace Lrml.Analysis;

/// <summary>
/// A fitted principal component analysis: the data mean, the leading principal axes (unit vectors) and the
/// variance each explains. Produced by <see cref="Pca.Fit"/>.
/// </summary>
public sealed class PcaModel
{
    /// <summary>Input dimension.</summary>
    public int Dim { get; }

    /// <summary>Number of kept components k.</summary>
    public int ComponentCount { get; }

    /// <summary>Number of rows the model was fitted on.</summary>
    public int SampleCount { get; }

    /// <summary>Column means of the fitted data (length dim).</summary>
    public double[] Mean { get; }

    /// <summary>Principal axes, row-major k × dim, orthonormal, in descending order of variance. The sign of each
    /// axis is fixed so that its largest-magnitude coordinate is positive (deterministic output).</summary>
    public float[] Components { get; }

    /// <summary>Variance along each axis (eigenvalues of the covariance matrix, n − 1 denominator), descending.</summary>
    public double[] ExplainedVariance { get; }

    /// <summary>ExplainedVariance / total variance (trace of the covariance); sums to ≤ 1, descending.</summary>
    public double[] ExplainedVarianceRatio { get; }

    /// <summary>Total variance (trace of the covariance matrix).</summary>
    public double TotalVariance { get; }

    internal PcaModel(int dim, int n, double[] mean, float[] axes, double[] variance, double total)
    {
        Dim = dim;
        SampleCount = n;
        Mean = mean;
        Components = axes;
        ComponentCount = variance.Length;
        ExplainedVariance = variance;
        TotalVariance = total;
        ExplainedVarianceRatio = new double[variance.Length];
        for (int c = 0; c < variance.Length; c++)
            ExplainedVarianceRatio[c] = total > 0 ? variance[c] / total : 0;
    }

    /// <summary>Projects rows onto the components: (x − mean) · axesᵀ, an n × k row-major result.</summary>
    /// <param name="x">Row-major n × <see cref="Dim"/> data.</param>
    /// <param name="n">Number of rows.</param>
    public float[] Transform(float[] x, int n)
    {
        Guard.Matrix(x, n, Dim);
        int dim = Dim, k = ComponentCount;
        var result = new float[(long)n * k];
        var meanF = new float[dim];
        for (int d = 0; d < dim; d++) meanF[d] = (float)Mean[d];
        var centred = new float[dim];
        for (int i = 0; i < n; i++)
        {
            TensorPrimitives.Subtract(x.AsSpan(i * dim, dim), meanF, centred);
            for (int c = 0; c < k; c++)
                result[i * k + c] = TensorPrimitives.Dot<float>(centred, Components.AsSpan(c * dim, dim));
        }
        return result;
    }
}

/// <summary>
/// Exact principal component analysis: the covariance matrix (dim × dim, accumulated in double) and its full
/// eigendecomposition (<see cref="SymmetricEigen"/>, MathNet.Numerics). No randomised approximation.
/// </summary>
public static class Pca
{
    /// <summary>Fits the mean and the <paramref name="components"/> leading principal axes.</summary>
    /// <param name="x">Row-major n × dim data.</param>
    /// <param name="n">Number of rows (at least 2).</param>
    /// <param name="dim">Number of columns.</param>
    /// <param name="components">Axes to keep, 1 ≤ components ≤ dim.</param>
    /// <param name="threads">Threads for the covariance accumulation.</param>
    public static PcaModel Fit(float[] x, int n, int dim, int components, int threads = 1)
    {
        Guard.Matrix(x, n, dim);
        Guard.Threads(threads, nameof(threads));
        if (n < 2) throw new ArgumentException($"PCA needs at least 2 rows, got {n}.", nameof(n));
        if (components < 1 || components > dim)
            throw new ArgumentOutOfRangeException(nameof(components), components, $"components must be in [1, dim = {dim}].");

        // Column-major centred copy in double: column d is contiguous, so covariance entries are dot products.
        var mean = new double[dim];
        for (int i = 0; i < n; i++)
        {
            int o = i * dim;
            for (int d = 0; d < dim; d++) mean[d] += x[o + d];
        }
        for (int d = 0; d < dim; d++) mean[d] /= n;
        var cols = new double[(long)dim * n];
        for (int i = 0; i < n; i++)
        {
            int o = i * dim;
            for (int d = 0; d < dim; d++) cols[(long)d * n + i] = x[o + d] - mean[d];
        }
        // The kit's own covariance loop (not MathNet's matrix product): it runs on `threads` cores with SIMD dot
        // products, and each entry is one sequential dot product, so the fit is bit-identical for any thread count.
        var cov = new double[dim * dim];
        double inv = 1.0 / (n - 1);
        Par.For(0, dim, threads, a =>
        {
            var ca = new ReadOnlySpan<double>(cols, a * n, n);
            for (int b = a; b < dim; b++)
            {
                double v = TensorPrimitives.Dot(ca, new ReadOnlySpan<double>(cols, b * n, n)) * inv;
                cov[a * dim + b] = v;
                cov[b * dim + a] = v;
            }
        });
        double total = 0;
        for (int d = 0; d < dim; d++) total += cov[d * dim + d];

        var (values, vectors) = SymmetricEigen.Decompose(cov, dim);
        var axes = new float[components * dim];
        var variance = new double[components];
        for (int c = 0; c < components; c++)
        {
            // Eigenvalues of a covariance matrix are ≥ 0; tiny negative round-off is clamped.
            variance[c] = Math.Max(0, values[c]);
            int argmax = 0;
            for (int d = 1; d < dim; d++)
                if (Math.Abs(vectors[d * dim + c]) > Math.Abs(vectors[argmax * dim + c])) argmax = d;
            double sign = vectors[argmax * dim + c] < 0 ? -1 : 1;
            for (int d = 0; d < dim; d++) axes[c * dim + d] = (float)(sign * vectors[d * dim + c]);
        }
        return new PcaModel(dim, n, mean, axes, variance, total);
    }

    /// <summary>Fits and projects the same data: <c>Fit(...).Transform(x, n)</c>.</summary>
    public static float[] FitTransform(float[] x, int n, int dim, int components, int threads = 1) =>
        Fit(x, n, dim, components, threads).Transform(x, n);
}

/// <summary>Eigendecomposition of a real symmetric matrix (MathNet.Numerics: Householder tridiagonalisation, then
/// the implicit QL algorithm; exact to working precision, no randomised approximation).</summary>
internal static class SymmetricEigen
{
    /// <summary>
    /// Eigenvalues (descending) and eigenvectors of a symmetric row-major m × m matrix (only symmetry is assumed;
    /// the input is not modified). Eigenvector c is column c of the returned row-major m × m matrix.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix is not square-sized, not symmetric or not finite.</exception>
    public static (double[] Values, double[] Vectors) Decompose(double[] matrix, int m)
    {
        // The kit checks its input itself: MathNet's symmetric solver reads the lower triangle only (it decomposes
        // [[1, 2], [3, 4]] as [[1, 3], [3, 4]] without a word) and throws IndexOutOfRangeException on a NaN.
        ArgumentNullException.ThrowIfNull(matrix);
        if (m < 1 || matrix.Length != m * m) throw new ArgumentException($"Expected an {m} × {m} matrix, got {matrix.Length} values.", nameof(matrix));
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
            {
                double e = matrix[i * m + j];
                if (!double.IsFinite(e)) throw new ArgumentException($"matrix[{i},{j}] = {e} is not finite.", nameof(matrix));
                if (j > i && Math.Abs(e - matrix[j * m + i]) > 1e-9 * Math.Max(1, Math.Abs(e)))
                    throw new ArgumentException($"matrix is not symmetric at [{i},{j}].", nameof(matrix));
            }

        var evd = Matrix<double>.Build.DenseOfRowMajor(m, m, matrix).Evd(Symmetricity.Symmetric);
        var values = new double[m];
        var order = new int[m];
        for (int i = 0; i < m; i++) { values[i] = evd.EigenValues[i].Real; order[i] = i; }
        // Descending by value, ties by index: a stable, deterministic order.
        Array.Sort(order, (i, j) => values[j].CompareTo(values[i]) is var c && c != 0 ? c : i.CompareTo(j));
        var sortedValues = new double[m];
        var sortedVectors = new double[m * m];
        for (int c = 0; c < m; c++)
        {
            sortedValues[c] = values[order[c]];
            for (int r = 0; r < m; r++) sortedVectors[r * m + c] = evd.EigenVectors[r, order[c]];
        }
        return (sortedValues, sortedVectors);
    }
}
