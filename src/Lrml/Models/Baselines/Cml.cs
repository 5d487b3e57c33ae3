using Lrml.Protocols;
using Lrml.Training;
using Lrml.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lrml.Models;

/// <summary>How CML weights each positive's hinge terms. The LRML paper ran CML without WARP weighting.</summary>
public enum CmlRankWeighting
{
    /// <summary>Every hinge term has weight 1 (as in the LRML paper's CML baseline).</summary>
    None,
    /// <summary>WARP-style rank weighting (Hsieh et al. §3.3): each positive's hinge is weighted by log(1 + ⌊J·M/U⌋), where
    /// M counts the impostors among U negatives the model samples for it (<see cref="CmlConfig.WarpNegatives"/>).</summary>
    Warp,
}

/// <summary>Which hinge terms the WARP weight multiplies.</summary>
public enum CmlWarpHinge
{
    /// <summary>One hinge per positive, against the closest of its U sampled negatives (CML's released code).</summary>
    Closest,
    /// <summary>The trainer's k hinge terms of the positive (the paper's Eq. 3 read over the trainer's negatives).</summary>
    Batch,
}

/// <summary>
/// CML hyper-parameters (Hsieh et al., WWW 2017). Defaults are the kit's choice for the LRML comparison
/// (same d, margin and optimiser grid as LRML), not the CML paper's.
/// </summary>
public sealed record CmlConfig : IModelConfig
{
    /// <summary>Embedding dimension d (kit's choice, as LRML's default).</summary>
    public int Dim { get; init; } = 100;

    /// <summary>Hinge margin m on squared distances (kit's choice; CML's code used 1.5–2.0 with WARP).</summary>
    public float Margin { get; init; } = 0.5f;

    /// <summary>Learning rate (kit's choice for Adam; CML's code used Adagrad with 0.1).</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Optimiser (Adam, LazyAdam, Adagrad or Sgd; semantics as for LRML).</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Standard deviation of the N(0, σ²) initialisation; null = 1/√d (CML's released code).</summary>
    public float? InitStd { get; init; }

    /// <summary>Weight λ_c of the covariance regulariser (CML §3.4); 0 = off (default: the LRML paper does not say it was used).</summary>
    public float CovarianceWeight { get; init; } = 0f;

    /// <summary>Rank weighting of the hinge terms: none (the LRML paper's CML baseline, default) or warp.</summary>
    public CmlRankWeighting RankWeighting { get; init; } = CmlRankWeighting.None;

    /// <summary>U, the negatives sampled per positive to estimate its rank under WARP weighting (kit's choice 20).</summary>
    public int WarpNegatives { get; init; } = 20;

    /// <summary>Which hinge terms the WARP weight multiplies (closest sampled negative, as CML's code, by default).</summary>
    public CmlWarpHinge WarpHinge { get; init; } = CmlWarpHinge.Closest;

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (Dim < 1) throw new ArgumentException($"Dim must be ≥ 1 (got {Dim}).");
        if (!(Margin >= 0) || float.IsInfinity(Margin)) throw new ArgumentException($"Margin must be a finite value ≥ 0 (got {Margin}).");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"LearningRate must be a finite number > 0 (got {LearningRate}).");
        if (InitStd is { } s && !(s > 0)) throw new ArgumentException($"InitStd must be > 0 (got {s}).");
        if (!(CovarianceWeight >= 0)) throw new ArgumentException($"CovarianceWeight must be ≥ 0 (got {CovarianceWeight}).");
        if (WarpNegatives < 1) throw new ArgumentException($"WarpNegatives must be ≥ 1 (got {WarpNegatives}).");
    }
}

/// <summary>
/// CML — Collaborative Metric Learning. Cheng-Kang Hsieh, Longqi Yang, Yin Cui, Tsung-Yi Lin, Serge Belongie,
/// Deborah Estrin: "Collaborative Metric Learning", WWW 2017, pp. 193–201, doi 10.1145/3038912.3052639 — as run
/// in the LRML paper's baseline row (no WARP rank weighting) by default, with WARP-style rank weighting as an option.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>d(u,i)² = ‖p_u − q_i‖² (squared Euclidean); score = −d².</item>
/// <item>Loss of a batch: Σ_b Σ_j max(0, m + d(u_b,i⁺_b)² − d(u_b,i⁻_bj)²) — summed; k negatives give k hinge terms
/// (CML's WARP variant instead keeps the closest negative and weights it — see below).</item>
/// <item>WARP option (<see cref="CmlRankWeighting.Warp"/>): for every positive (u, i⁺) the model draws U = <see cref="CmlConfig.WarpNegatives"/>
/// negatives j (uniform over the items u has no training interaction with, stream "cml.warp"), counts the impostors
/// M = #{j : m + d(u,i⁺)² − d(u,j)² &gt; 0}, estimates rank = ⌊J·M/U⌋ (J = number of items) and weights the positive's hinge by
/// w = log(1 + rank) (no gradient through w). With <see cref="CmlWarpHinge.Closest"/> the hinge is w·[m + d(u,i⁺)² − min_j d(u,j)²]₊
/// (CML's released code); with <see cref="CmlWarpHinge.Batch"/> it is w·Σ over the trainer's k negatives. Needs the training
/// positives (constructor argument).</item>
/// <item>Optional covariance regulariser (λ_c &gt; 0): over the n = 2B stacked batch rows X = [p_u; q_i⁺] (centred
/// by their column mean μ), C = (X − μ)ᵀ(X − μ)/n and L_c = λ_c·(‖C‖²_F − ‖diag C‖²)/n, i.e. the squared
/// off-diagonal covariances (the paper's formula read with a squared Frobenius norm; CML's released code
/// instead sums the raw off-diagonal covariances of the whole tables, which is not a bounded-below penalty).</item>
/// <item>After every optimiser step every stored row is projected onto the unit ball, row ← row/max(1, ‖row‖)
/// (CML's released code clips whole tables after each step; this covers the touched rows and, with dense Adam,
/// the rows whose moments move them; rows already inside the ball stay bit-identical). Rows are also
/// projected once at initialisation (with σ = 1/√d the initial norms are ≈ 1).</item>
/// <item>Initialisation P, Q ~ N(0, σ²) from <see cref="Rng"/> streams "cml.init.P" / "cml.init.Q".</item>
/// </list>
/// </remarks>
public sealed class CmlModel : ITrainableRecommender
{
    /// <summary>The registry entry "cml" (factory and memory sizing).</summary>
    internal static ModelEntry Entry { get; } = ModelEntry.Torch<CmlConfig>("cml", "CML", "Hsieh et al. Collaborative Metric Learning. WWW 2017.",
        (cfg, c, device) => new CmlModel(cfg, c.NumUsers, c.NumItems, c.Seed, device, positives: c.Train))
        .Sized<CmlConfig>((cfg, c) => ModelMemory.Embeddings(cfg.Dim, cfg.Optimizer, c.NumUsers, c.NumItems, Math.Max(c.NegativesPerPositive, cfg.WarpNegatives)));

    private const int StateVersion = 1;

    private readonly CmlConfig _config;
    private readonly EmbeddingNet _net;
    private readonly ModelOptimizer _optimizer;
    private readonly RowIndexer _userRows, _itemRows;
    private readonly Device _device;
    private readonly ScalarType _dtype;
    private readonly NegativeSampler? _warpSampler;
    private readonly Rng? _warpRng;
    private TrainingBatch? _warpBatch;

    /// <summary>Creates a seeded model. <paramref name="positives"/> (the training interactions) is required for WARP weighting.</summary>
    public CmlModel(CmlConfig config, int numUsers, int numItems, long seed, Device? device = null, ScalarType dtype = ScalarType.Float32,
        UserItems? positives = null)
        : this(config, numUsers, numItems, InitRows(config, numUsers, seed, "cml.init.P"), InitRows(config, numItems, seed, "cml.init.Q"), device, dtype,
               positives, seed) { }

    /// <summary>Creates a model from given embeddings (row-major users × d and items × d, copied); they are
    /// projected onto the unit ball like a seeded initialisation.</summary>
    public CmlModel(CmlConfig config, int numUsers, int numItems, float[] userEmbeddings, float[] itemEmbeddings, Device? device = null, ScalarType dtype = ScalarType.Float32,
        UserItems? positives = null, long seed = 1)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        EmbeddingNet.CheckEmbeddings(numUsers, numItems, config.Dim, userEmbeddings, itemEmbeddings);
        _config = config;
        _device = device ?? CPU;
        _dtype = TorchSupport.CheckDType(dtype);
        _net = new EmbeddingNet("CML", numUsers, numItems, config.Dim, userEmbeddings, itemEmbeddings, null, _dtype, _device);
        _optimizer = new ModelOptimizer(config.Optimizer, config.LearningRate, [("P", _net.P), ("Q", _net.Q)]);
        _userRows = new RowIndexer(numUsers);
        _itemRows = new RowIndexer(numItems);
        if (config.RankWeighting == CmlRankWeighting.Warp)
        {
            if (positives is null) throw new ArgumentException("WARP rank weighting samples negatives the user has not interacted with: pass the training positives.");
            if (positives.NumUsers != numUsers || positives.NumItems != numItems)
                throw new ArgumentException($"positives are {positives.NumUsers}×{positives.NumItems} but the model is {numUsers}×{numItems}.");
            _warpSampler = new NegativeSampler(positives);
            _warpRng = new Rng(seed, "cml.warp");
        }
        TorchSupport.ProjectAllRows(_net.P);
        TorchSupport.ProjectAllRows(_net.Q);
    }

    private static float[] InitRows(CmlConfig config, int rows, long seed, string stream)
    {
        config.Validate();
        return TorchSupport.GaussianInit((long)rows * config.Dim, config.InitStd ?? 1.0 / Math.Sqrt(config.Dim), seed, stream);
    }

    /// <inheritdoc/>
    public string Name => "CML";
    /// <inheritdoc/>
    public int NumUsers => (int)_net.P.shape[0];
    /// <inheritdoc/>
    public int NumItems => (int)_net.Q.shape[0];

    /// <summary>The configuration the model was built with.</summary>
    public CmlConfig Config => _config;

    /// <summary>Budget (elements) of one per-chunk intermediate in <see cref="ScoreAllItems"/>.</summary>
    public long ScoreBudget { get; set; } = LrmlModel.DefaultScoreBudget;

    /// <summary>Hinge part of the last step's loss.</summary>
    public double LastHingeLoss { get; private set; }

    /// <summary>Covariance part of the last step's loss (0 when λ_c = 0).</summary>
    public double LastCovarianceLoss { get; private set; }

    internal Parameter P => _net.P;
    internal Parameter Q => _net.Q;

    /// <inheritdoc/>
    public double TrainStep(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var pass = ForwardBackward(batch, backward: true);
        if (_optimizer.IsLazy)
            _optimizer.StepLazy(pass.Views.LazyGradients(_optimizer.Names.Count), 0, 0);
        else
            _optimizer.StepDense(0, 0);
        TorchSupport.ProjectAllRows(_net.P);
        TorchSupport.ProjectAllRows(_net.Q);
        LastHingeLoss = TorchSupport.Scalar(pass.Hinge);
        LastCovarianceLoss = pass.Covariance is null ? 0 : TorchSupport.Scalar(pass.Covariance);
        return LastHingeLoss + LastCovarianceLoss;
    }

    /// <summary>Loss and dense gradients of P and Q on a batch, as <see cref="TrainStep"/> computes them, without updating.</summary>
    internal (double Loss, double[] P, double[] Q) ComputeGradients(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var pass = ForwardBackward(batch, backward: true);
        double[] gp = pass.Views.DenseGradP(_net.P), gq = pass.Views.DenseGradQ(_net.Q);
        _net.zero_grad();
        return (TorchSupport.Scalar(pass.Loss), gp, gq);
    }

    private sealed record Pass(Tensor Loss, Tensor Hinge, Tensor? Covariance, BatchViews Views);

    /// <summary>The U negatives per positive drawn for WARP at the last step (row-major B × U), for tests.</summary>
    internal int[]? LastWarpNegatives => _warpBatch is not { } b ? null : Enumerable.Range(0, b.Count * _config.WarpNegatives).Select(x => b.Negatives[x / _config.WarpNegatives * b.NegativesPerPositive + b.NegativesPerPositive - _config.WarpNegatives + x % _config.WarpNegatives]).ToArray();

    private Pass ForwardBackward(TrainingBatch batch, bool backward)
    {
        int k = batch.NegativesPerPositive, count = batch.Count;
        int u = _warpSampler is null ? 0 : _config.WarpNegatives;
        var fed = u == 0 ? batch : AppendOwnNegatives(batch, u, _warpSampler!, _warpRng!, ref _warpBatch);
        var v = BatchViews.Of(fed, _net.P, _net.Q, null, _userRows, _itemRows, _optimizer.IsLazy, backward, _device);
        var p = v.PTable.index_select(0, v.UserIdx);
        var qPos = v.QTable.index_select(0, v.PosIdx);
        var qAll = v.QTable.index_select(0, v.NegIdx).view(count, k + u, -1);
        // Plus, Squared: a + b, square() with kept-alive Scalars (see KeptScalars)
        using var margin = ((double)_config.Margin).ToScalar();
        var dPos = (p - qPos).Squared().sum(-1);                       // B
        var dAll = (p.unsqueeze(1) - qAll).Squared().sum(-1);         // B × (k + U)
        var dNeg = u == 0 ? dAll : dAll.narrow(1, 0, k);               // B × k (the trainer's negatives)
        Tensor hinge;
        if (u == 0) hinge = (dPos.unsqueeze(1) - dNeg).Plus(margin).clamp_min(KeptScalars.Zero).sum();
        else
        {
            var dWarp = dAll.narrow(1, k, u);                          // B × U
            var w = PairWeights(dPos, dWarp);                          // B
            var terms = _config.WarpHinge == CmlWarpHinge.Closest
                ? (dPos - dWarp.min(1).values).Plus(margin).clamp_min(KeptScalars.Zero)
                : (dPos.unsqueeze(1) - dNeg).Plus(margin).clamp_min(KeptScalars.Zero).sum(1);
            hinge = (terms * w).sum();
        }
        Tensor? cov = null;
        if (_config.CovarianceWeight > 0)
        {
            var x = cat([p, qPos], 0);
            long n = x.shape[0];
            var xc = x - x.mean([0L], keepdim: true);
            using Scalar nS = ((double)n).ToScalar(), weight = ((double)_config.CovarianceWeight / n).ToScalar();
            var c = xc.t().matmul(xc).div(nS);
            var offDiagonal = c.Squared().sum() - c.diagonal().Squared().sum();
            cov = offDiagonal.mul(weight);
        }
        var loss = cov is null ? hinge : hinge.Plus(cov);
        if (backward) { _net.zero_grad(); loss.backward(); }
        return new Pass(loss, hinge, cov, v);
    }

    /// <summary>The batch with <paramref name="u"/> negatives drawn by the model itself appended after each positive's k (positive
    /// by positive, from <paramref name="rng"/>), into a reused <paramref name="buffer"/>: CML's WARP draws on either engine.</summary>
    internal static TrainingBatch AppendOwnNegatives(TrainingBatch batch, int u, NegativeSampler sampler, Rng rng, ref TrainingBatch? buffer)
    {
        int k = batch.NegativesPerPositive, n = batch.Count;
        if (buffer is null || buffer.Capacity < n || buffer.NegativesPerPositive != k + u)
            buffer = new TrainingBatch(Math.Max(n, batch.Capacity), k + u);
        var b = buffer;
        b.Count = n;
        batch.Users.AsSpan(0, n).CopyTo(b.Users);
        batch.Positives.AsSpan(0, n).CopyTo(b.Positives);
        // Fill draws exactly what Sample would, positive by positive (prefetching ahead on big data), into [0, n·u); then
        // each block moves to its place, last first (a block's destination never overlaps an earlier block's source)
        sampler.Fill(batch.Users.AsSpan(0, n), b.Negatives.AsSpan(0, n * u), u, rng);
        for (int x = n - 1; x >= 0; x--) b.Negatives.AsSpan(x * u, u).CopyTo(b.Negatives.AsSpan(x * (k + u) + k));
        for (int x = 0; x < n; x++) batch.Negatives.AsSpan(x * k, k).CopyTo(b.Negatives.AsSpan(x * (k + u)));
        return b;
    }

    /// <summary>
    /// Per-positive rank weights (B) from the positive squared distances (B) and those of the U sampled negatives (B × U):
    /// w = log(1 + ⌊J·M/U⌋) with M the impostor count (m + d⁺ − d_j &gt; 0); no gradient flows through w.
    /// </summary>
    private Tensor PairWeights(Tensor dPos, Tensor dWarp) => _config.RankWeighting switch
    {
        CmlRankWeighting.Warp => WarpWeights(dPos.detach(), dWarp.detach()),
        _ => throw new NotSupportedException($"Rank weighting {_config.RankWeighting} has no weights."),
    };

    private Tensor WarpWeights(Tensor dPos, Tensor dWarp)
    {
        long u = dWarp.shape[1];
        using Scalar margin = ((double)_config.Margin).ToScalar(), zero = 0.ToScalar(), scale = ((double)NumItems / u).ToScalar();
        var impostors = (dPos.unsqueeze(1) - dWarp).Plus(margin).gt(zero).sum(1).to(dPos.dtype);
        var rank = impostors.mul(scale).floor();
        return rank.log1p();
    }

    /// <inheritdoc/>
    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores) =>
        TorchSupport.ScorePairsChunked(users, items, scores, NumUsers, NumItems, _device,
            (uIdx, iIdx) => (_net.P.index_select(0, uIdx) - _net.Q.index_select(0, iIdx)).Squared().sum(-1).neg());

    /// <inheritdoc/>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores) =>
        TorchSupport.ScoreAllChunked(users, scores, NumUsers, NumItems, 1, ScoreBudget, _device, (uIdx, i0, n) =>
        {   // ‖p‖² + ‖q‖² − 2 p·q: a matrix product instead of a users × items × d difference (issue 14)
            var (p, q) = (_net.P.index_select(0, uIdx), _net.Q.narrow(0, i0, n));
            return TorchSupport.NegSquaredDistances(p.Squared().sum(1), p.Plus(p).neg(), q.Squared().sum(1), q);
        });

    /// <summary>User and item embeddings (row-major copies).</summary>
    public (float[] Users, float[] Items) ExportEmbeddings() => (TorchSupport.ToFloats(_net.P), TorchSupport.ToFloats(_net.Q));

    /// <inheritdoc/>
    public bool ParametersAreFinite() => TorchSupport.AllFinite(_net);
    /// <inheritdoc/>
    public double MaxAbsParameter() => TorchSupport.MaxAbs(_net);

    /// <inheritdoc/>
    /// <remarks>With WARP weighting the sampler's random state follows the tensors (32 bytes), so a restored model draws the same negatives.</remarks>
    public byte[] SaveState()
    {
        var blob = EmbeddingNet.Save("CML-TORCH-STATE", StateVersion, _net, _optimizer, _dtype, (int)_config.Optimizer);
        return _warpRng is null ? blob : TorchSupport.WithRngState(blob, _warpRng);
    }

    /// <inheritdoc/>
    public void LoadState(byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (_warpRng is null) { EmbeddingNet.Load(state, "CML-TORCH-STATE", StateVersion, _net, _optimizer, _dtype, (int)_config.Optimizer); return; }
        var blob = TorchSupport.WithoutRngState(state, "Not a CML-TORCH-STATE with WARP sampler state.", out var rng);
        EmbeddingNet.Load(blob, "CML-TORCH-STATE", StateVersion, _net, _optimizer, _dtype, (int)_config.Optimizer);
        _warpRng.SetState(rng);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object?> Describe()
    {
        var d = TorchSupport.DescribeConfig(Name, _config, NumUsers, NumItems, _dtype, _device);
        d["InitStd"] = _config.InitStd ?? (float)(1.0 / Math.Sqrt(_config.Dim));
        d["Projection"] = "all rows onto the unit ball after every step";
        return d;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _optimizer.Dispose();
        _net.Dispose();
    }
}
