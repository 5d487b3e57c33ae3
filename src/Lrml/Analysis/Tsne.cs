using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lrml.Util;

namespace Lrml.Analysis;

/// <summary>Settings of <see cref="Tsne"/> (defaults follow scikit-learn ≥ 1.2 / openTSNE).</summary>
public sealed record TsneOptions
{
    /// <summary>Perplexity: the effective number of neighbours each point's conditional distribution spreads over
    /// (entropy = ln perplexity). Must be ≥ 1 and &lt; n − 1.</summary>
    public double Perplexity { get; init; } = 30;

    /// <summary>Total gradient iterations, including the early-exaggeration phase.</summary>
    public int Iterations { get; init; } = 750;

    /// <summary>Step size on the gradient 4 Σ_j (p_ij − q_ij) w_ij (y_i − y_j); null = automatic
    /// max(n / EarlyExaggeration / 4, 50) (scikit-learn's "auto", i.e. openTSNE's n / exaggeration without the 4).</summary>
    public double? LearningRate { get; init; }

    /// <summary>Factor multiplying P during the first <see cref="EarlyExaggerationIterations"/> iterations.</summary>
    public double EarlyExaggeration { get; init; } = 12;

    /// <summary>Length of the early-exaggeration phase (momentum is <see cref="InitialMomentum"/> during it).</summary>
    public int EarlyExaggerationIterations { get; init; } = 250;

    /// <summary>Momentum during early exaggeration.</summary>
    public double InitialMomentum { get; init; } = 0.5;

    /// <summary>Momentum afterwards.</summary>
    public double FinalMomentum { get; init; } = 0.8;

    /// <summary>Lower bound of the per-coordinate adaptive gains (+0.2 on a sign change, ×0.8 otherwise).</summary>
    public double MinGain { get; init; } = 0.01;

    /// <summary>Seed of the random initialisation (used only when <see cref="PcaInit"/> is false or the data
    /// have fewer than two dimensions or no spread).</summary>
    public long Seed { get; init; }

    /// <summary>Threads for the distance matrix, the perplexity search and the gradient.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Initialise with the first two principal components scaled to standard deviation 1e-4 on the first
    /// (deterministic, keeps global structure); otherwise N(0, 1e-4²) from the seed.</summary>
    public bool PcaInit { get; init; } = true;

    /// <summary>Record KL(P‖Q) every this many iterations (0 = only at the end). Each record costs about one
    /// gradient iteration.</summary>
    public int KlEvery { get; init; } = 50;

    /// <summary>Absolute tolerance on each row's entropy (nats) in the perplexity binary search.</summary>
    public double PerplexityTolerance { get; init; } = 1e-5;
}

/// <summary>Output of <see cref="Tsne.Fit"/>.</summary>
/// <param name="Embedding">Row-major n × 2 coordinates.</param>
/// <param name="N">Number of points.</param>
/// <param name="LearningRate">The learning rate used (resolved when automatic).</param>
/// <param name="KlIterations">Iterations (1-based counts of completed steps) at which KL was recorded.</param>
/// <param name="KlValues">KL(P‖Q) of the un-exaggerated P at those iterations.</param>
/// <param name="FinalKl">KL(P‖Q) of the returned embedding.</param>
/// <param name="MaxEntropyError">Largest |row entropy − ln perplexity| left by the perplexity search.</param>
public sealed record TsneResult(float[] Embedding, int N, double LearningRate, int[] KlIterations, double[] KlValues,
    double FinalKl, double MaxEntropyError);

/// <summary>Per-point conditional affinities p(j|i) calibrated to a perplexity.</summary>
/// <param name="Conditional">Row-major n × n, row i is p(·|i) (p(i|i) = 0, each row sums to 1).</param>
/// <param name="Beta">Precision 1 / (2σ_i²) of each row's Gaussian kernel on squared distances.</param>
/// <param name="Entropy">Achieved entropy of each row in nats (target ln perplexity).</param>
internal sealed record TsneAffinities(float[] Conditional, double[] Beta, double[] Entropy);

/// <summary>
/// Exact t-SNE (van der Maaten &amp; Hinton 2008): Gaussian conditional affinities calibrated per point by binary
/// search to the perplexity, symmetrised P = (P_j|i + P_i|j) / 2n, Student-t (one degree of freedom) similarities
/// in 2-D, gradient descent with early exaggeration, momentum 0.5 → 0.8 and adaptive gains. The O(n²) gradient is
/// computed exactly with SIMD over dense P; intended for n up to a few thousand (subsample first with
/// <see cref="Subsample"/>). Every row sum is computed by one thread in a fixed order, so the output for a seed
/// is identical for any thread count on the same hardware.
/// </summary>
public static class Tsne
{
    /// <summary>Largest n accepted (two n × n float matrices are not kept, but one is: 400 MB at the limit).</summary>
    public const int MaxPoints = 10_000;

    /// <summary>Embeds the rows of x in 2-D and returns the n × 2 coordinates.</summary>
    public static float[] Embed(float[] x, int n, int dim, TsneOptions? options = null) => Fit(x, n, dim, options).Embedding;

    /// <summary>Embeds the rows of x in 2-D; the result also carries the KL trace.</summary>
    public static TsneResult Fit(float[] x, int n, int dim, TsneOptions? options = null)
    {
        var o = options ?? new TsneOptions();
        Guard.Matrix(x, n, dim);
        Validate(o, n);

        var p = PairwiseSquaredChecked(x, n, dim, o.Threads);
        var cond = CalibrateInPlace(p, n, o.Perplexity, o.PerplexityTolerance, o.Threads, out _, out var entropy);
        double target = Math.Log(o.Perplexity), maxErr = 0;
        foreach (double h in entropy) maxErr = Math.Max(maxErr, Math.Abs(h - target));
        Symmetrize(cond, n);
        return Optimize(cond, x, n, dim, o, maxErr);
    }

    /// <summary>
    /// Conditional affinities p(j|i) ∝ exp(−β_i ‖x_i − x_j‖²), with β_i found by binary search so that each row's
    /// entropy is ln <paramref name="perplexity"/> within <paramref name="tolerance"/> nats.
    /// </summary>
    internal static TsneAffinities ConditionalAffinities(float[] x, int n, int dim, double perplexity, double tolerance = 1e-5, int threads = 1)
    {
        Guard.Matrix(x, n, dim);
        Guard.Threads(threads, nameof(threads));
        ValidatePerplexity(perplexity, n);
        var d = PairwiseSquaredChecked(x, n, dim, threads);
        var cond = CalibrateInPlace(d, n, perplexity, tolerance, threads, out var beta, out var entropy);
        return new TsneAffinities(cond, beta, entropy);
    }

    /// <summary>Symmetrised joint affinities P = (C + Cᵀ) / 2n from conditional affinities (row-major n × n).</summary>
    internal static float[] JointAffinities(TsneAffinities conditional)
    {
        int n = conditional.Beta.Length;
        var p = (float[])conditional.Conditional.Clone();
        Symmetrize(p, n);
        return p;
    }

    /// <summary>
    /// KL(P‖Q) of a 2-D embedding y (row-major n × 2) against joint affinities P (row-major n × n, summing to 1),
    /// with q_ij = (1 + ‖y_i − y_j‖²)⁻¹ / Σ_{k≠l} (1 + ‖y_k − y_l‖²)⁻¹.
    /// </summary>
    public static double KlDivergence(float[] p, float[] y, int n, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(y);
        if (p.Length != (long)n * n) throw new ArgumentException($"p must be n × n = {(long)n * n} values.", nameof(p));
        Guard.Matrix(y, n, 2, nameof(y));
        var yx = new float[n]; var yy = new float[n];
        for (int i = 0; i < n; i++) { yx[i] = y[2 * i]; yy[i] = y[2 * i + 1]; }
        return Kl(p, yx, yy, n, PLogP(p, n, threads), threads);
    }

    /// <summary>Gradient of KL(exaggeration·P ‖ Q) with respect to y (row-major n × 2), exactly as the optimiser
    /// computes it (for tests against finite differences).</summary>
    internal static double[] KlGradient(float[] p, float[] y, int n, double exaggeration = 1.0)
    {
        var yx = new float[n]; var yy = new float[n];
        for (int i = 0; i < n; i++) { yx[i] = y[2 * i]; yy[i] = y[2 * i + 1]; }
        var attr = new double[2 * n]; var rep = new double[2 * n]; var zRow = new double[n];
        for (int i = 0; i < n; i++) GradientRow(p, yx, yy, n, i, attr, rep, zRow);
        double z = 0;
        foreach (double v in zRow) z += v;
        var g = new double[2 * n];
        for (int k = 0; k < 2 * n; k++) g[k] = 4.0 * (exaggeration * attr[k] - rep[k] / z);
        return g;
    }

    private static void Validate(TsneOptions o, int n)
    {
        Guard.Threads(o.Threads, nameof(o.Threads));
        ValidatePerplexity(o.Perplexity, n);
        if (o.Iterations < 1) throw new ArgumentOutOfRangeException(nameof(o.Iterations), o.Iterations, "Iterations must be at least 1.");
        if (o.LearningRate is { } lr && !(lr > 0 && double.IsFinite(lr)))
            throw new ArgumentOutOfRangeException(nameof(o.LearningRate), lr, "LearningRate must be positive (or null for automatic).");
        if (!(o.EarlyExaggeration >= 1 && double.IsFinite(o.EarlyExaggeration)))
            throw new ArgumentOutOfRangeException(nameof(o.EarlyExaggeration), o.EarlyExaggeration, "EarlyExaggeration must be ≥ 1.");
        if (o.EarlyExaggerationIterations < 0)
            throw new ArgumentOutOfRangeException(nameof(o.EarlyExaggerationIterations), o.EarlyExaggerationIterations, "must not be negative.");
        if (!(o.InitialMomentum >= 0 && o.InitialMomentum < 1) || !(o.FinalMomentum >= 0 && o.FinalMomentum < 1))
            throw new ArgumentOutOfRangeException(nameof(o.FinalMomentum), "Momenta must be in [0, 1).");
        if (!(o.MinGain > 0 && o.MinGain <= 1)) throw new ArgumentOutOfRangeException(nameof(o.MinGain), o.MinGain, "MinGain must be in (0, 1].");
        if (o.KlEvery < 0) throw new ArgumentOutOfRangeException(nameof(o.KlEvery), o.KlEvery, "KlEvery must not be negative.");
        if (!(o.PerplexityTolerance > 0)) throw new ArgumentOutOfRangeException(nameof(o.PerplexityTolerance), o.PerplexityTolerance, "must be positive.");
    }

    private static void ValidatePerplexity(double perplexity, int n)
    {
        if (n < 3) throw new ArgumentException($"t-SNE needs at least 3 points, got {n}.", nameof(n));
        if (n > MaxPoints)
            throw new ArgumentException($"Exact t-SNE keeps an n × n matrix; n = {n} exceeds {MaxPoints}. Subsample first (Subsample.Stratified / Uniform).", nameof(n));
        if (!(perplexity >= 1 && perplexity < n - 1))
            throw new ArgumentOutOfRangeException(nameof(perplexity), perplexity, $"Perplexity must be in [1, n − 1 = {n - 1}).");
    }

    private static float[] PairwiseSquaredChecked(float[] x, int n, int dim, int threads)
    {
        // Centre first: distances are unchanged and the float values stay small.
        var c = Centre(x, n, dim);
        return DistanceKernels.PairwiseSquared(c, n, dim, threads);
    }

    internal static float[] Centre(float[] x, int n, int dim)
    {
        var mean = new double[dim];
        for (int i = 0; i < n; i++)
            for (int d = 0; d < dim; d++) mean[d] += x[i * dim + d];
        var m = new float[dim];
        for (int d = 0; d < dim; d++) m[d] = (float)(mean[d] / Math.Max(1, n));
        var c = new float[x.Length];
        for (int i = 0; i < n; i++) TensorPrimitives.Subtract(x.AsSpan(i * dim, dim), m, c.AsSpan(i * dim, dim));
        return c;
    }

    /// <summary>Replaces each row of squared distances by its calibrated conditional distribution.</summary>
    private static float[] CalibrateInPlace(float[] d, int n, double perplexity, double tol, int threads, out double[] beta, out double[] entropy)
    {
        double target = Math.Log(perplexity);
        var betas = new double[n];
        var ents = new double[n];
        Par.For(0, n, threads, () => (new float[n - 1], new float[n - 1]), (i, bufs) =>
        {
            var (dist, e) = bufs;
            var row = d.AsSpan(i * n, n);
            row[..i].CopyTo(dist);
            row[(i + 1)..].CopyTo(dist.AsSpan(i));
            float dmin = TensorPrimitives.Min<float>(dist);
            TensorPrimitives.Subtract(dist, dmin, dist); // shift: p is unchanged, the nearest term is exp(0) = 1
            double mean = TensorPrimitives.Sum<float>(dist) / (double)(n - 1);
            double b = mean > 0 ? 1.0 / mean : 1.0, lo = 0, hi = double.PositiveInfinity;
            double h = 0, s = 1, used = b;
            for (int step = 0; step < 200; step++)
            {
                used = b;
                TensorPrimitives.Multiply(dist, (float)-b, e);
                TensorPrimitives.Exp(e, e);
                s = TensorPrimitives.Sum<float>(e);
                double dp = TensorPrimitives.Dot<float>(dist, e);
                h = Math.Log(s) + b * dp / s;
                double diff = h - target;
                if (Math.Abs(diff) < tol || step == 199) break;
                if (diff > 0)
                {
                    lo = b;
                    b = double.IsPositiveInfinity(hi) ? b * 2 : (b + hi) / 2;
                    if (b > 1e30) break; // all distances equal: the target entropy is not reachable
                }
                else
                {
                    hi = b;
                    b = (b + lo) / 2;
                }
            }
            // Write the normalised row back (self = 0).
            float inv = (float)(1.0 / s);
            TensorPrimitives.Multiply(e, inv, e);
            row[i] = 0f;
            e.AsSpan(0, i).CopyTo(row);
            e.AsSpan(i).CopyTo(row[(i + 1)..]);
            betas[i] = used;
            // Entropy of the stored (float-normalised) row, in double.
            double ent = 0;
            foreach (float v in e) if (v > 0) ent -= v * Math.Log(v);
            ents[i] = ent;
        });
        beta = betas;
        entropy = ents;
        return d;
    }

    private static void Symmetrize(float[] p, int n)
    {
        double scale = 1.0 / (2.0 * n);
        for (int i = 0; i < n; i++)
        {
            p[i * n + i] = 0f;
            for (int j = i + 1; j < n; j++)
            {
                float v = (float)((p[i * n + j] + (double)p[j * n + i]) * scale);
                p[i * n + j] = v;
                p[j * n + i] = v;
            }
        }
    }

    private static double PLogP(float[] p, int n, int threads)
    {
        var rows = new double[n];
        Par.For(0, n, threads, i =>
        {
            double s = 0;
            foreach (float v in p.AsSpan(i * n, n)) if (v > 0) s += v * Math.Log(v);
            rows[i] = s;
        });
        double t = 0;
        foreach (double r in rows) t += r;
        return t;
    }

    private static TsneResult Optimize(float[] p, float[] x, int n, int dim, TsneOptions o, double maxEntropyError)
    {
        double lr = o.LearningRate ?? Math.Max(n / o.EarlyExaggeration / 4.0, 50.0);
        var y = Initialise(x, n, dim, o);
        var update = new double[2 * n];
        var gains = new double[2 * n];
        Array.Fill(gains, 1.0);
        var yx = new float[n]; var yy = new float[n];
        var attr = new double[2 * n];
        var rep = new double[2 * n];
        var zRow = new double[n];
        double pLogP = PLogP(p, n, o.Threads);
        var klIt = new List<int>();
        var klVal = new List<double>();
        const int rowsPerChunk = 16;
        int chunks = (n + rowsPerChunk - 1) / rowsPerChunk;

        for (int it = 0; it < o.Iterations; it++)
        {
            bool early = it < o.EarlyExaggerationIterations;
            double exag = early ? o.EarlyExaggeration : 1.0;
            double momentum = early ? o.InitialMomentum : o.FinalMomentum;
            for (int i = 0; i < n; i++) { yx[i] = (float)y[2 * i]; yy[i] = (float)y[2 * i + 1]; }

            Par.For(0, chunks, o.Threads, c =>
            {
                int end = Math.Min(n, (c + 1) * rowsPerChunk);
                for (int i = c * rowsPerChunk; i < end; i++)
                    GradientRow(p, yx, yy, n, i, attr, rep, zRow);
            });
            double z = 0;
            for (int i = 0; i < n; i++) z += zRow[i];
            double invZ = 1.0 / z;
            for (int k = 0; k < 2 * n; k++)
            {
                double g = 4.0 * (exag * attr[k] - rep[k] * invZ);
                double gain = gains[k];
                gain = (update[k] * g < 0) ? gain + 0.2 : gain * 0.8;
                if (gain < o.MinGain) gain = o.MinGain;
                gains[k] = gain;
                update[k] = momentum * update[k] - lr * gain * g;
                y[k] += update[k];
            }

            bool last = it == o.Iterations - 1;
            if (!last && o.KlEvery > 0 && (it + 1) % o.KlEvery == 0)
            {
                for (int i = 0; i < n; i++) { yx[i] = (float)y[2 * i]; yy[i] = (float)y[2 * i + 1]; }
                klIt.Add(it + 1);
                klVal.Add(Kl(p, yx, yy, n, pLogP, o.Threads));
            }
        }

        for (int i = 0; i < n; i++) { yx[i] = (float)y[2 * i]; yy[i] = (float)y[2 * i + 1]; }
        double finalKl = Kl(p, yx, yy, n, pLogP, o.Threads);
        klIt.Add(o.Iterations);
        klVal.Add(finalKl);
        var emb = new float[2 * n];
        for (int k = 0; k < 2 * n; k++)
        {
            emb[k] = (float)y[k];
            if (!float.IsFinite(emb[k]))
                throw new InvalidOperationException($"t-SNE diverged (coordinate {k / 2} is {emb[k]}); lower the LearningRate (used {lr}).");
        }
        if (!double.IsFinite(finalKl))
            throw new InvalidOperationException($"t-SNE diverged (KL = {finalKl}); lower the LearningRate (used {lr}).");
        return new TsneResult(emb, n, lr, klIt.ToArray(), klVal.ToArray(), finalKl, maxEntropyError);
    }

    private static double[] Initialise(float[] x, int n, int dim, TsneOptions o)
    {
        var y = new double[2 * n];
        if (o.PcaInit && dim >= 2)
        {
            var proj = Pca.FitTransform(x, n, dim, 2, o.Threads);
            double m = 0, ss = 0;
            for (int i = 0; i < n; i++) m += proj[2 * i];
            m /= n;
            for (int i = 0; i < n; i++) ss += (proj[2 * i] - m) * (proj[2 * i] - m);
            double std = Math.Sqrt(ss / n);
            if (std > 0)
            {
                double scale = 1e-4 / std;
                for (int k = 0; k < 2 * n; k++) y[k] = proj[k] * scale;
                return y;
            }
        }
        var rng = new Rng(o.Seed, "analysis.tsne.init");
        for (int k = 0; k < 2 * n; k++) y[k] = 1e-4 * rng.NextGaussian();
        return y;
    }

    /// <summary>Row i of the gradient: attractive Σ p_ij w_ij (y_i − y_j), repulsive Σ w_ij² (y_i − y_j) and
    /// Σ_{j≠i} w_ij, with w = (1 + d²)⁻¹.</summary>
    private static void GradientRow(float[] p, float[] yx, float[] yy, int n, int i, double[] attr, double[] rep, double[] zRow)
    {
        int w = Vector<float>.Count;
        ref float px = ref MemoryMarshal.GetArrayDataReference(yx);
        ref float py = ref MemoryMarshal.GetArrayDataReference(yy);
        ref float pr = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(p), (nint)i * n);
        float xi = yx[i], yi = yy[i];
        var vxi = new Vector<float>(xi); var vyi = new Vector<float>(yi);
        var one = Vector<float>.One;
        Vector<float> ax = default, ay = default, rx = default, ry = default, zs = default;
        int j = 0;
        for (; j + w <= n; j += w)
        {
            var dx = vxi - Vector.LoadUnsafe(ref px, (nuint)j);
            var dy = vyi - Vector.LoadUnsafe(ref py, (nuint)j);
            var q = one / (one + dx * dx + dy * dy);
            var pw = Vector.LoadUnsafe(ref pr, (nuint)j) * q;
            var qq = q * q;
            ax = Vector.FusedMultiplyAdd(pw, dx, ax);
            ay = Vector.FusedMultiplyAdd(pw, dy, ay);
            rx = Vector.FusedMultiplyAdd(qq, dx, rx);
            ry = Vector.FusedMultiplyAdd(qq, dy, ry);
            zs += q;
        }
        float sax = Vector.Sum(ax), say = Vector.Sum(ay), srx = Vector.Sum(rx), sry = Vector.Sum(ry), sz = Vector.Sum(zs);
        for (; j < n; j++)
        {
            float dx = xi - Unsafe.Add(ref px, j), dy = yi - Unsafe.Add(ref py, j);
            float q = 1f / (1f + dx * dx + dy * dy);
            float pw = Unsafe.Add(ref pr, j) * q, qq = q * q;
            sax += pw * dx; say += pw * dy; srx += qq * dx; sry += qq * dy; sz += q;
        }
        attr[2 * i] = sax; attr[2 * i + 1] = say;
        rep[2 * i] = srx; rep[2 * i + 1] = sry;
        zRow[i] = sz - 1.0; // the self term w_ii = 1
    }

    /// <summary>KL = Σ p ln p − Σ p ln w + ln Z (Σ p = 1).</summary>
    private static double Kl(float[] p, float[] yx, float[] yy, int n, double pLogP, int threads)
    {
        var pLogW = new double[n];
        var zRow = new double[n];
        Par.For(0, n, threads, () => (new float[n], new float[n]), (i, bufs) =>
        {
            var (buf, inv) = bufs;
            var vx = new Vector<float>(yx[i]); var vy = new Vector<float>(yy[i]);
            int w = Vector<float>.Count, j = 0;
            for (; j + w <= n; j += w)
            {
                var dx = vx - new Vector<float>(yx.AsSpan(j, w));
                var dy = vy - new Vector<float>(yy.AsSpan(j, w));
                (Vector<float>.One + dx * dx + dy * dy).CopyTo(buf.AsSpan(j, w));   // 1 / w_ij
            }
            for (; j < n; j++)
            {
                float dx = yx[i] - yx[j], dy = yy[i] - yy[j];
                buf[j] = 1f + dx * dx + dy * dy;
            }
            TensorPrimitives.Reciprocal(buf, inv);
            zRow[i] = TensorPrimitives.Sum<float>(inv) - 1.0;  // without the self term w_ii = 1
            TensorPrimitives.Log(buf, buf);                     // ln(1/w) = −ln w
            pLogW[i] = -TensorPrimitives.Dot<float>(p.AsSpan(i * n, n), buf);
        });
        double zt = 0, plw = 0;
        for (int i = 0; i < n; i++) { zt += zRow[i]; plw += pLogW[i]; }
        return pLogP - plw + Math.Log(zt);
    }
}
