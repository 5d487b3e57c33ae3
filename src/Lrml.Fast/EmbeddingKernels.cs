using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;
using static Lrml.Fast.FusedMath;
using T = System.Numerics.Tensors.TensorPrimitives;

namespace Lrml.Fast;

/// <summary>BPR-MF (<see cref="BprMfModel"/>): x = p·q (+ b_i, stored as the item row's last float); per triple
/// softplus(x⁻ − x⁺) + λ/2 (‖p‖² + ‖q⁺‖² + ‖q⁻‖², biases included), summed.</summary>
internal sealed class BprKernel(BprConfig c) : EmbeddingKernel
{
    private readonly int _d = c.Dim;
    private readonly bool _bias = c.ItemBias;
    private readonly float _l2 = c.L2;
    public override string Name => "BPR-MF";

    private float X(ReadOnlySpan<float> p, ReadOnlySpan<float> q) => FusedMath.Dot(p, q[.._d]) + (_bias ? q[_d] : 0f);

    public override double Example(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<int> rows, int stride, int count, ReadOnlySpan<float> dense,
        float coef, Span<float> gp, Span<float> gq, Span<bool> live, Span<float> gDense)
    {
        int d = _d, w = ItemWidth, k = count - 1;
        var q0 = q.Slice(rows[0], w);
        float x0 = X(p, q0), sum = 0;
        double loss = 0, reg = _l2 > 0 ? k * ((double)FusedMath.SumOfSquares(p) + FusedMath.SumOfSquares(q0)) : 0;
        Span<float> gs = count <= 64 ? stackalloc float[count] : new float[count];
        for (int j = 1; j < count; j++)
        {
            var qj = q.Slice(rows[j], w);
            float diff = X(p, qj) - x0, g = Sigmoid(diff);            // ∂softplus(x⁻ − x⁺)/∂x⁻
            loss += Softplus(diff);
            if (_l2 > 0) reg += FusedMath.SumOfSquares(qj);
            sum += g; gs[j] = g;
        }
        // ∂/∂p = λk·p + Σ g_j q_j − (Σ g_j) q⁺, ∂/∂q_j = λ q_j + g_j p, ∂/∂q⁺ = λk·q⁺ − (Σ g_j) p: one pass over the floats, each
        // through the operations (and roundings) of the span-at-a-time form in the same order, so the results are unchanged
        float lk = _l2 * k, ns = -sum;
        ref float rp = ref MemoryMarshal.GetReference(p), rq = ref MemoryMarshal.GetReference(q);
        ref float rgp = ref MemoryMarshal.GetReference(gp), rgq = ref MemoryMarshal.GetReference(gq);
        int vw = Vector<float>.Count, whole = d - d % vw;
        var vlk = new Vector<float>(lk); var vl = new Vector<float>(_l2); var vns = new Vector<float>(ns);
        for (int i = 0; i < whole; i += vw)
        {
            var pv = Ld(ref rp, i);
            var q0v = Ld(ref rq, rows[0] + i);
            var acc = pv * vlk;                                       // the user is in k triples
            for (int j = 1; j < count; j++)
            {
                var qv = Ld(ref rq, rows[j] + i);
                var g = new Vector<float>(gs[j]);
                acc = qv * g + acc;
                St(pv * g + qv * vl, ref rgq, j * stride + i);
            }
            St(q0v * vns + acc, ref rgp, i);
            St(pv * vns + q0v * vlk, ref rgq, i);
        }
        for (int i = whole; i < d; i++)
        {
            float pi = At(ref rp, i), q0i = At(ref rq, rows[0] + i), acc = pi * lk;
            for (int j = 1; j < count; j++)
            {
                float qi = At(ref rq, rows[j] + i);
                acc = qi * gs[j] + acc;
                At(ref rgq, j * stride + i) = pi * gs[j] + qi * _l2;
            }
            At(ref rgp, i) = q0i * ns + acc;
            At(ref rgq, i) = pi * ns + q0i * lk;
        }
        if (_bias)
        {
            for (int j = 1; j < count; j++) gq[j * stride + d] = q[rows[j] + d] * _l2 + gs[j];
            gq[d] = q0[d] * lk - sum;
        }
        return _l2 > 0 ? loss + 0.5 * _l2 * reg : loss;
    }

    public override float Score(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<float> dense) => X(p, q);

    public override float ScoreUser(ReadOnlySpan<float> p, ReadOnlySpan<float> dense, Span<float> a)
    {
        p.CopyTo(a);
        if (_bias) a[_d] = 1f;
        return 0f;
    }
}

/// <summary>CML without covariance (<see cref="CmlModel"/>): d = ‖p − q‖²; per triple max(0, d⁺ − d⁻ + m), summed; rows
/// projected onto the unit ball after every step. With WARP weighting the kernel appends U negatives of its own to each
/// example (<see cref="Augment"/>: the TorchSharp model's sampler, stream "cml.warp" and order) and weights the example's
/// hinge by w = log(1 + ⌊J·M/U⌋), M the impostors among them (no gradient through w): the closest of them as negative
/// (CML's code) or the trainer's k negatives.</summary>
internal sealed class CmlKernel(CmlConfig c, int numItems = 0, UserItems? positives = null, long seed = 1) : EmbeddingKernel
{
    private readonly float _margin = c.Margin;
    private readonly int _u = c.RankWeighting == CmlRankWeighting.Warp ? c.WarpNegatives : 0;
    private readonly float _scale = (float)((double)numItems / c.WarpNegatives);   // as torch: the impostor count × J/U in float
    private readonly NegativeSampler? _sampler = c.RankWeighting != CmlRankWeighting.Warp ? null
        : new NegativeSampler(positives ?? throw new ArgumentException("WARP rank weighting samples negatives the user has not interacted with: pass the training positives."));
    private readonly Rng? _rng = c.RankWeighting == CmlRankWeighting.Warp ? new Rng(seed, "cml.warp") : null;
    private TrainingBatch? _warpBatch;
    public override string Name => "CML";
    public override Rng? OwnRng => _rng;

    public override TrainingBatch Augment(TrainingBatch batch) => _u == 0 ? batch : CmlModel.AppendOwnNegatives(batch, _u, _sampler!, _rng!, ref _warpBatch);

    /// <summary>‖p − q‖², as TensorPrimitives.Subtract then SumOfSquares compute it (bit for bit, inline: FusedMath).</summary>
    private static float Dist(ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<float> diff) => FusedMath.SquaredDistance(p, q, diff);

    public override double Example(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<int> rows, int stride, int count, ReadOnlySpan<float> dense,
        float coef, Span<float> gp, Span<float> gq, Span<bool> live, Span<float> gDense)
    {
        int d = p.Length, active = 0;
        Span<float> diff = d <= 512 ? stackalloc float[d] : new float[d];
        var q0 = q.Slice(rows[0], d);
        float d0 = Dist(p, q0, diff);
        if (_u > 0) return Warp(p, q, rows, stride, count, d0, diff, gp, gq, live);
        double loss = 0;
        Span<bool> on = count <= 256 ? stackalloc bool[count] : new bool[count];
        for (int j = 1; j < count; j++)
        {
            float h = d0 - Dist(p, q.Slice(rows[j], d), diff) + _margin;   // the reference's order: (d⁺ − d⁻) + m
            if (on[j] = h >= 0f) { loss += h; active++; }                      // clamp_min passes the gradient at 0, as torch
        }
        if (active == 0) { gp.Clear(); live[..count].Clear(); return 0; }   // every item row's gradient is zero: left unwritten
        for (int j = 1; j < count; j++) live[j] = on[j];                     // an inactive hinge's negative: zero, unwritten
        // ∂/∂q⁻ = 2(p − q⁻) for an active hinge, else 0; ∂/∂p = Σ 2(p − q⁺) − 2(p − q⁻) = 2(Σ q⁻ − a·q⁺); ∂/∂q⁺ = −2a(p − q⁺).
        // One pass over the floats, each through the operations of the span-at-a-time form in the same order (unchanged results).
        float na = -active, n2a = -2f * active;
        ref float rp = ref MemoryMarshal.GetReference(p), rq = ref MemoryMarshal.GetReference(q);
        ref float rgp = ref MemoryMarshal.GetReference(gp), rgq = ref MemoryMarshal.GetReference(gq);
        int vw = Vector<float>.Count, whole = d - d % vw;
        var two = new Vector<float>(2f); var vna = new Vector<float>(na); var vn2a = new Vector<float>(n2a);
        for (int i = 0; i < whole; i += vw)
        {
            var pv = Ld(ref rp, i);
            var acc = Vector<float>.Zero;
            for (int j = 1; j < count; j++)
            {
                if (!on[j]) continue;
                var qv = Ld(ref rq, rows[j] + i);
                St((pv - qv) * two, ref rgq, j * stride + i);
                acc += qv;
            }
            var q0v = Ld(ref rq, rows[0] + i);
            St((q0v * vna + acc) * two, ref rgp, i);
            St((pv - q0v) * vn2a, ref rgq, i);
        }
        for (int i = whole; i < d; i++)
        {
            float pi = At(ref rp, i), acc = 0f;
            for (int j = 1; j < count; j++)
            {
                if (!on[j]) continue;
                float qi = At(ref rq, rows[j] + i);
                At(ref rgq, j * stride + i) = (pi - qi) * 2f;
                acc += qi;
            }
            float q0i = At(ref rq, rows[0] + i);
            At(ref rgp, i) = (q0i * na + acc) * 2f;
            At(ref rgq, i) = (pi - q0i) * n2a;
        }
        return loss;
    }

    /// <summary>One WARP example: rows 1..k the trainer's negatives, k+1..k+U the kernel's own.</summary>
    private double Warp(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<int> rows, int stride, int count, float d0, Span<float> diff, Span<float> gp, Span<float> gq, Span<bool> live)
    {
        int d = p.Length, k = count - 1 - _u, impostors = 0, closest = -1;
        float dMin = float.PositiveInfinity;
        for (int j = k + 1; j < count; j++)
        {
            float dj = Dist(p, q.Slice(rows[j], d), diff);
            if (d0 - dj + _margin > 0f) impostors++;                   // torch: (d⁺ − d_j) + m > 0
            if (dj < dMin) { dMin = dj; closest = j; }                 // the first minimum, as torch's min
        }
        float w = (float)Math.Log(1.0 + MathF.Floor(impostors * _scale));
        live[..count].Clear();   // rows without a hinge have zero gradient: left unwritten
        gp.Clear();
        var q0 = q.Slice(rows[0], d);
        double loss = 0;
        int active = 0;
        for (int j = 1; j < count; j++)
        {
            bool hinge = c.WarpHinge == CmlWarpHinge.Closest ? j == closest : j <= k;
            if (!hinge) continue;
            var qj = q.Slice(rows[j], d);
            float h = d0 - (j == closest && c.WarpHinge == CmlWarpHinge.Closest ? dMin : Dist(p, qj, diff)) + _margin;
            if (h < 0f) continue;                                      // clamp_min passes the gradient at 0, as torch
            loss += (double)w * h; active++; live[j] = true;
            T.Subtract(p, qj, diff);
            T.Multiply(diff, 2f * w, gq.Slice(j * stride, d));         // ∂(−w·d_j)/∂q_j = 2w(p − q_j)
            T.Add(gp, qj, gp);
        }
        if (active == 0) return 0;
        // ∂/∂p = w Σ 2(q_j − q⁺) = 2w(Σ q_j − a·q⁺); ∂/∂q⁺ = −2wa(p − q⁺)
        T.MultiplyAdd(q0, -active, gp, gp);
        T.Multiply(gp, 2f * w, gp);
        var g0 = gq[..d];
        live[0] = true;
        T.Subtract(p, q0, g0);
        T.Multiply(g0, -2f * w * active, g0);
        return loss;
    }

    public override float Score(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<float> dense)
    {
        Span<float> diff = p.Length <= 512 ? stackalloc float[p.Length] : new float[p.Length];
        return -Dist(p, q, diff);
    }

    /// <summary>−‖p − q‖² = 2p·q − ‖p‖² − ‖q‖².</summary>
    public override float ScoreUser(ReadOnlySpan<float> p, ReadOnlySpan<float> dense, Span<float> a)
    {
        T.Multiply(p, 2f, a);
        return -FusedMath.SumOfSquares(p);
    }

    public override float ScoreItem(ReadOnlySpan<float> q) => -FusedMath.SumOfSquares(q);
}

/// <summary>GMF (<see cref="GmfModel"/>): z = hᵀ(p ⊙ q) + b (dense parameters h, b); log loss softplus(−z⁺) + Σ softplus(z⁻)
/// plus λ(‖p‖² + ‖q‖²) per pair, reduced by mean over B(1 + k) pairs or summed; reports the summed log loss.</summary>
internal sealed class GmfKernel(GmfConfig c) : EmbeddingKernel
{
    private readonly int _d = c.Dim;
    private readonly float _l2 = c.L2;
    private readonly bool _mean = c.Reduction == LossReduction.Mean;
    public override string Name => "GMF";

    public override float Coefficient(int count, int k) => _mean ? 1f / (count * (1 + k)) : 1f;

    public override double Example(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<int> rows, int stride, int count, ReadOnlySpan<float> dense,
        float coef, Span<float> gp, Span<float> gq, Span<bool> live, Span<float> gDense)
    {
        int d = _d;
        var h = dense[..d];
        Span<float> ph = stackalloc float[d];
        Span<float> gs = count <= 64 ? stackalloc float[count] : new float[count];
        T.Multiply(p, h, ph);
        double loss = 0;
        for (int j = 0; j < count; j++)
        {
            float z = FusedMath.Dot(ph, q.Slice(rows[j], d)) + dense[d];
            loss += j == 0 ? Softplus(-z) : Softplus(z);
            gs[j] = coef * (j == 0 ? -Sigmoid(-z) : Sigmoid(z));
        }
        // ∂/∂q_j = g_j (p⊙h) + 2λc q_j, ∂/∂p = 2λc(1+k) p + Σ g_j (q_j⊙h), ∂/∂h += Σ g_j (p⊙q_j): one pass over the floats, each
        // through the operations (and roundings) of the span-at-a-time form in the same order, so the results are unchanged
        float c0 = 2f * _l2 * coef * count, c1 = 2f * _l2 * coef;   // the user is looked up by 1 + k pairs
        ref float rp = ref MemoryMarshal.GetReference(p), rh = ref MemoryMarshal.GetReference(h), rq = ref MemoryMarshal.GetReference(q);
        ref float rgp = ref MemoryMarshal.GetReference(gp), rgq = ref MemoryMarshal.GetReference(gq), rgd = ref MemoryMarshal.GetReference(gDense);
        int vw = Vector<float>.Count, whole = d - d % vw;
        var v0 = new Vector<float>(c0); var v1 = new Vector<float>(c1);
        for (int i = 0; i < whole; i += vw)
        {
            var pv = Ld(ref rp, i); var hv = Ld(ref rh, i);
            var phv = pv * hv;
            var acc = pv * v0; var dacc = Ld(ref rgd, i);
            for (int j = 0; j < count; j++)
            {
                var qv = Ld(ref rq, rows[j] + i);
                var g = new Vector<float>(gs[j]);
                St(phv * g + qv * v1, ref rgq, j * stride + i);
                acc = qv * hv * g + acc;
                dacc = pv * qv * g + dacc;
            }
            St(acc, ref rgp, i); St(dacc, ref rgd, i);
        }
        for (int i = whole; i < d; i++)
        {
            float pi = At(ref rp, i), hi = At(ref rh, i), phi = pi * hi, acc = pi * c0, dacc = At(ref rgd, i);
            for (int j = 0; j < count; j++)
            {
                float qi = At(ref rq, rows[j] + i);
                At(ref rgq, j * stride + i) = phi * gs[j] + qi * c1;
                acc = qi * hi * gs[j] + acc;
                dacc = pi * qi * gs[j] + dacc;
            }
            At(ref rgp, i) = acc; At(ref rgd, i) = dacc;
        }
        for (int j = 0; j < count; j++) gDense[d] += gs[j];
        return loss;
    }

    public override float Score(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<float> dense)
    {
        Span<float> ph = stackalloc float[_d];
        T.Multiply(p, dense[.._d], ph);
        return FusedMath.Dot(ph, q) + dense[_d];
    }

    public override float ScoreUser(ReadOnlySpan<float> p, ReadOnlySpan<float> dense, Span<float> a)
    {
        T.Multiply(p, dense[.._d], a);
        return dense[_d];
    }
}

/// <summary>The fused engines of the embedding baselines, built from the same seeded initial weights as their TorchSharp models.</summary>
internal static class EmbeddingModels
{
    public static EmbeddingEngine Bpr(BprConfig c, int users, int items, long seed, int threads)
    {
        c.Validate();
        var p = TorchSupport.GaussianInit((long)users * c.Dim, c.InitStd, seed, "bpr.init.P");
        var q = TorchSupport.GaussianInit((long)items * c.Dim, c.InitStd, seed, "bpr.init.Q");
        return Bpr(c, users, items, p, q, c.ItemBias ? new float[items] : null, threads);
    }

    /// <summary>From given weights (users × d, items × d, optional item biases), as <see cref="BprMfModel"/>'s second constructor.</summary>
    public static EmbeddingEngine Bpr(BprConfig c, int users, int items, float[] p, float[] q, float[]? bias, int threads)
    {
        int w = c.Dim + (c.ItemBias ? 1 : 0);
        var rows = q;
        if (c.ItemBias)
        {
            rows = new float[(long)items * w];
            for (int i = 0; i < items; i++) { q.AsSpan(i * c.Dim, c.Dim).CopyTo(rows.AsSpan(i * w)); rows[i * w + c.Dim] = bias![i]; }
        }
        var k = new BprKernel(c) { UserWidth = c.Dim, ItemWidth = w, Optimizer = c.Optimizer, LearningRate = c.LearningRate, Config = c };
        return new EmbeddingEngine(k, users, items, p, rows, null, threads);
    }

    public static EmbeddingEngine Cml(CmlConfig c, int users, int items, long seed, int threads, UserItems? positives = null)
    {
        c.Validate();
        double std = c.InitStd ?? 1.0 / Math.Sqrt(c.Dim);
        return Cml(c, users, items, TorchSupport.GaussianInit((long)users * c.Dim, std, seed, "cml.init.P"),
            TorchSupport.GaussianInit((long)items * c.Dim, std, seed, "cml.init.Q"), threads, positives, seed);
    }

    /// <summary>From given embeddings (projected onto the unit ball, as <see cref="CmlModel"/>); WARP weighting needs the
    /// training <paramref name="positives"/> and draws its negatives from the stream of <paramref name="seed"/>.</summary>
    public static EmbeddingEngine Cml(CmlConfig c, int users, int items, float[] p, float[] q, int threads, UserItems? positives = null, long seed = 1)
    {
        if (!SupportsCml(c))
            throw new ArgumentException("The fused CML engine implements CML without the covariance regulariser; use --engine torch for it.");
        if (positives is not null && (positives.NumUsers != users || positives.NumItems != items))
            throw new ArgumentException($"positives are {positives.NumUsers}×{positives.NumItems} but the model is {users}×{items}.");
        var k = new CmlKernel(c, items, positives, seed) { UserWidth = c.Dim, ItemWidth = c.Dim, ProjectRows = true, Optimizer = c.Optimizer, LearningRate = c.LearningRate, Config = c };
        return new EmbeddingEngine(k, users, items, p, q, null, threads);
    }

    public static bool SupportsCml(CmlConfig c) => c.CovarianceWeight == 0f;

    public static EmbeddingEngine Gmf(GmfConfig c, int users, int items, long seed, int threads)
    {
        c.Validate();
        var w = NcfWeights.Init(users, items, c.Dim, null, seed);
        return Gmf(c, users, items, w.GmfP!, w.GmfQ!, [.. w.H, w.HBias], threads);
    }

    /// <summary>From given weights: embeddings, then the output layer h and its bias as one dense vector (d + 1).</summary>
    public static EmbeddingEngine Gmf(GmfConfig c, int users, int items, float[] p, float[] q, float[] hAndBias, int threads)
    {
        var k = new GmfKernel(c) { UserWidth = c.Dim, ItemWidth = c.Dim, DenseWidth = c.Dim + 1, Optimizer = c.Optimizer, LearningRate = c.LearningRate, Config = c };
        return new EmbeddingEngine(k, users, items, p, q, hAndBias, threads);
    }

    public static EmbeddingEngine Mlp(MlpConfig c, int users, int items, long seed, int threads)
    {
        c.Validate();
        return Ncf("MLP", c, 0, c.Layers, c.L2, c.Reduction, c.Optimizer, c.LearningRate, NcfWeights.Init(users, items, 0, c.Layers, seed), threads);
    }

    public static EmbeddingEngine NeuMf(NeuMfConfig c, int users, int items, long seed, int threads)
    {
        c.Validate();
        if (c.Pretrain.Length > 0)
            throw new ArgumentException("The fused NeuMF engine starts from seeded weights; pre-training (pretrain=gmf_dir,mlp_dir) runs on --engine torch.");
        return Ncf("NeuMF", c, c.Dim, c.Layers, c.L2, c.Reduction, c.Optimizer, c.LearningRate, NcfWeights.Init(users, items, c.Dim, c.Layers, seed), threads);
    }

    /// <summary>MLP (no GMF part, <paramref name="gmfDim"/> 0) or NeuMF from given weights: user row [GMF p ; MLP p'], item row
    /// likewise; dense W₁, b₁, …, h, h_bias (NcfNet's order).</summary>
    public static EmbeddingEngine Ncf(string name, object config, int gmfDim, int[] layers, float l2, LossReduction reduction, OptimizerKind optimizer,
        float lr, NcfWeights w, int threads)
    {
        int nu = w.NumUsers, ni = w.NumItems, e = layers[0] / 2, width = gmfDim + e;
        float[] Rows(float[]? gmf, float[] mlp, int n)
        {
            var rows = new float[(long)n * width];
            for (int r = 0; r < n; r++)
            {
                gmf?.AsSpan(r * gmfDim, gmfDim).CopyTo(rows.AsSpan(r * width));
                mlp.AsSpan(r * e, e).CopyTo(rows.AsSpan(r * width + gmfDim));
            }
            return rows;
        }
        var dense = w.W.Zip(w.B).SelectMany(x => x.First.Concat(x.Second)).Concat(w.H).Append(w.HBias).ToArray();
        var k = new NcfKernel(name, gmfDim, layers, l2, reduction)
        {
            UserWidth = width, ItemWidth = width, DenseWidth = dense.Length, Optimizer = optimizer, LearningRate = lr, Config = config,
        };
        if (k.Dense != dense.Length || w.MlpP is null || (gmfDim > 0) != (w.GmfP is not null))
            throw new ArgumentException($"{name}: the given NCF weights do not fit the configuration.");
        return new EmbeddingEngine(k, nu, ni, Rows(w.GmfP, w.MlpP!, nu), Rows(w.GmfQ, w.MlpQ!, ni), dense, threads);
    }
}
