using Lrml.Protocols;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lrml.Models;

/// <summary>
/// LRML — Latent Relational Metric Learning. Yi Tay, Luu Anh Tuan, Siu Cheung Hui: "Latent Relational Metric
/// Learning via Memory-based Attention for Collaborative Ranking", WWW 2018, pp. 729–739,
/// doi 10.1145/3178876.3186154, arXiv 1707.05176. The TorchSharp reference implementation: every other engine
/// (the fused CPU path) must reproduce its losses, gradients and optimiser semantics.
/// </summary>
/// <remarks>
/// The formulas, every option and where each comes from are in README.md next to this file. This file reads top to
/// bottom: parameters → forward → loss → step, then scoring, explanations and state. Parameters live in an internal
/// <see cref="nn.Module"/> with state-dict keys "P", "Q", "K", "M"; all engines start from
/// <see cref="LrmlParameters.Initialize"/>. The model never sets torch's thread count (the trainer does).
/// </remarks>
public sealed class LrmlModel : ITrainableRecommender, IRelationalModel
{
    // ───────────────────────────── parameters ─────────────────────────────

    /// <summary>The parameter container; field names are the state-dict keys.</summary>
    private sealed class LrmlNet : nn.Module
    {
        public readonly Parameter P, Q, K, M;

        public LrmlNet(LrmlParameters init, ScalarType dtype, Device device, bool trainMemory) : base("LRML")
        {
            P = TorchSupport.MakeParameter(init.P, [init.NumUsers, init.Dim], dtype, device, true);
            Q = TorchSupport.MakeParameter(init.Q, [init.NumItems, init.Dim], dtype, device, true);
            K = TorchSupport.MakeParameter(init.K, [init.Dim, init.Slots], dtype, device, trainMemory);
            M = TorchSupport.MakeParameter(init.M, [init.Slots, init.Dim], dtype, device, trainMemory);
            RegisterComponents();
        }
    }

    private readonly LrmlConfig _config;
    private readonly LrmlNet _net;
    private readonly ModelOptimizer _optimizer;
    private readonly RowIndexer _userRows, _itemRows;
    private readonly Device _device;
    private readonly ScalarType _dtype;
    private readonly LrmlWarp? _warp;
    // the config's numbers as Scalars kept for the model's lifetime (disposed with it): the per-batch ops read them
    // instead of temporaries that a GC could finalise mid-op (see KeptScalars); each has the type and value of the
    // plain form it replaces, so results are bit-identical
    private readonly Scalar _margin, _distanceEpsilon, _attentionTemperature, _l2, _halfL2, _zeroInt;

    /// <summary>Creates a model from the shared seeded initialisation <see cref="LrmlParameters.Initialize"/>.
    /// <paramref name="positives"/> (the training interactions) is required for WARP rank weighting.</summary>
    public LrmlModel(LrmlConfig config, int numUsers, int numItems, long seed, Device? device = null, ScalarType dtype = ScalarType.Float32,
        UserItems? positives = null)
        : this(config, LrmlParameters.Initialize(config, numUsers, numItems, seed), device, dtype, positives, seed) { }

    /// <summary>Creates a model starting from given parameters (copied), e.g. for parity tests between engines;
    /// <paramref name="seed"/> seeds WARP's negative sampling (stream "lrml.warp").</summary>
    public LrmlModel(LrmlConfig config, LrmlParameters parameters, Device? device = null, ScalarType dtype = ScalarType.Float32,
        UserItems? positives = null, long seed = 1)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(parameters);
        config.Validate();
        if (parameters.Dim != config.Dim || parameters.Slots != config.Slots)
            throw new ArgumentException($"Parameters are {parameters.Dim}-dimensional with {parameters.Slots} slots; the config asks for {config.Dim} and {config.Slots}.");
        if (parameters.NumUsers < 1 || parameters.NumItems < 1) throw new ArgumentException("A model needs at least one user and one item.");
        _config = config;
        _margin = ((double)config.Margin).ToScalar();
        _distanceEpsilon = ((double)config.DistanceEpsilon).ToScalar();
        _attentionTemperature = ((double)config.AttentionTemperature).ToScalar();
        _l2 = ((double)config.L2).ToScalar();
        _halfL2 = (0.5 * config.L2).ToScalar();
        _zeroInt = 0.ToScalar();
        _device = device ?? CPU;
        _dtype = TorchSupport.CheckDType(dtype);
        _net = new LrmlNet(parameters, _dtype, _device, config.TrainMemory);
        var trainable = new List<(string, Parameter)> { ("P", _net.P), ("Q", _net.Q) };
        if (config.TrainMemory) { trainable.Add(("K", _net.K)); trainable.Add(("M", _net.M)); }
        var memoryRate = config.MemoryLearningRate is float mlr
            ? new Dictionary<string, double> { ["K"] = mlr, ["M"] = mlr } : null;
        _optimizer = new ModelOptimizer(config.Optimizer, config.LearningRate, trainable, memoryRate);
        if (config.RankWeighting == LrmlRankWeighting.Warp)
        {
            if (positives is null) throw new ArgumentException("WARP rank weighting samples negatives the user has not interacted with: pass the training positives.");
            _warp = new LrmlWarp(positives, parameters.NumUsers, parameters.NumItems, config.WarpNegatives, seed);
        }
        _userRows = new RowIndexer(parameters.NumUsers);
        _itemRows = new RowIndexer(parameters.NumItems);
        if (config.NormConstraint == NormConstraint.Project)
        {
            TorchSupport.ProjectAllRows(_net.P);
            TorchSupport.ProjectAllRows(_net.Q);
        }
    }

    /// <inheritdoc/>
    public string Name => "LRML";
    /// <inheritdoc/>
    public int NumUsers => (int)_net.P.shape[0];
    /// <inheritdoc/>
    public int NumItems => (int)_net.Q.shape[0];
    /// <inheritdoc/>
    public int Dim => _config.Dim;
    /// <inheritdoc/>
    public int Slots => _config.Slots;

    /// <summary>The configuration the model was built with.</summary>
    public LrmlConfig Config => _config;

    /// <summary>Element type of the parameters (float32 default; float64 for gradient checks).</summary>
    public ScalarType DType => _dtype;

    /// <summary>Device the parameters live on.</summary>
    public Device Device => _device;

    /// <summary>Names of the tensors the optimiser updates ("P", "Q" and, unless memory is frozen, "K", "M").</summary>
    public IReadOnlyList<string> TrainableParameters => _optimizer.Names;

    internal Parameter P => _net.P;
    internal Parameter Q => _net.Q;
    internal Parameter K => _net.K;
    internal Parameter M => _net.M;
    internal nn.Module Module => _net;

    // ───────────────────────────── forward ─────────────────────────────

    /// <summary>The norm clip x / sqrt(max(1, ‖x‖²)) of looked-up rows when configured (identity otherwise). The clipped
    /// vectors replace the raw ones everywhere downstream, as in the authors' code.</summary>
    private Tensor Constrain(Tensor rows) => _config.NormConstraint == NormConstraint.Clip ? TorchSupport.ClipRows(rows) : rows;

    /// <summary>a = softmax((p ⊙ q)·K / τ) over slots and r = a·M; broadcasts over leading dimensions.</summary>
    private (Tensor A, Tensor R) Relation(Tensor p, Tensor q)
    {
        var logits = (p * q).matmul(_net.K);
        if (_config.AttentionTemperature != 1f) logits = logits.div(_attentionTemperature);
        var a = logits.softmax(-1);
        return (a, a.matmul(_net.M));
    }

    /// <summary>D of the translation residual p + r − q over the last dimension.</summary>
    private Tensor Distance(Tensor diff) => _config.Distance switch
    {
        LrmlDistance.SqrtL2 => diff.Squared().sum(-1).add(_distanceEpsilon, KeptScalars.One).sqrt(),
        LrmlDistance.SquaredL2 => diff.Squared().sum(-1),
        LrmlDistance.L1 => diff.abs().sum(-1),
        _ => throw new InvalidOperationException($"Unknown distance {_config.Distance}."),
    };

    // ───────────────────────────── loss ─────────────────────────────

    /// <summary>Σ_b w_b Σ_j max(0, margin + D(u_b, i⁺_b) − D(u_b, i⁻_bj)) over rows gathered from the given tables
    /// (w_b = 1 without rank weighting); summed, not averaged.</summary>
    private Tensor HingeLoss(Tensor pTable, Tensor qTable, Tensor uIdx, Tensor posIdx, Tensor negIdx, int k, Tensor? weights = null)
    {
        var p = Constrain(pTable.index_select(0, uIdx));
        var qPos = Constrain(qTable.index_select(0, posIdx));
        var qNeg = Constrain(qTable.index_select(0, negIdx));
        var (_, r) = Relation(p, qPos);
        var dPos = Distance(p.Plus(r) - qPos);
        var pNeg = k == 1 ? p : p.repeat_interleave(k, dim: 0);
        var rNeg = _config.NegativeRelation == NegativeRelation.Reuse
            ? (k == 1 ? r : r.repeat_interleave(k, dim: 0))
            : Relation(pNeg, qNeg).R;
        var dNeg = Distance(pNeg.Plus(rNeg) - qNeg);
        var dPosK = k == 1 ? dPos : dPos.repeat_interleave(k, dim: 0);
        var terms = (dPosK - dNeg).Plus(_margin).clamp_min(KeptScalars.Zero);
        if (weights is not null) terms = terms * (k == 1 ? weights : weights.repeat_interleave(k, dim: 0));
        return terms.sum();
    }

    /// <summary>WARP weights w_b (no gradient) of the batch's positives from the U negatives drawn for each (see <see cref="LrmlWarp"/>).</summary>
    private Tensor WarpWeights(TrainingBatch batch, int[] drawn)
    {
        using var noGrad = no_grad();
        int n = batch.Count, u = _warp!.Negatives;
        var p = Constrain(_net.P.index_select(0, TorchSupport.Index(batch.Users.AsSpan(0, n), _device)));
        var qPos = Constrain(_net.Q.index_select(0, TorchSupport.Index(batch.Positives.AsSpan(0, n), _device)));
        var qW = Constrain(_net.Q.index_select(0, TorchSupport.Index(drawn, _device)));
        var (_, r) = Relation(p, qPos);
        var dPos = Distance(p.Plus(r) - qPos);
        var pW = p.repeat_interleave(u, dim: 0);
        var rW = _config.NegativeRelation == NegativeRelation.Reuse ? r.repeat_interleave(u, dim: 0) : Relation(pW, qW).R;
        var dW = Distance(pW.Plus(rW) - qW).view(n, u);
        var impostors = (dPos.unsqueeze(1) - dW).Plus(_margin).gt(_zeroInt).sum(1).to(ScalarType.Int64).cpu().data<long>().ToArray();
        var w = impostors.Select(m => _warp.Weight((int)m)).ToArray();
        LastWarpNegatives = drawn;
        return tensor(w, dtype: _dtype, device: _device);
    }

    /// <summary>The U negatives per positive drawn for WARP at the last call (row-major B × U), for tests.</summary>
    internal int[]? LastWarpNegatives { get; private set; }

    private sealed record Pass(Tensor Loss, Tensor Hinge, Tensor? L2, BatchViews Views);

    /// <summary>Builds the batch loss (and runs backward). Dense optimisers differentiate w.r.t. the whole tables;
    /// lazy Adam w.r.t. leaf copies of the touched rows, so that the gradient is row-sparse by construction.</summary>
    private Pass ForwardBackward(TrainingBatch batch, bool backward, bool advanceWarp = false)
    {
        var weights = _warp is null ? null : WarpWeights(batch, _warp.Draw(batch, advanceWarp));
        var v = BatchViews.Of(batch, _net.P, _net.Q, null, _userRows, _itemRows, _optimizer.IsLazy, backward, _device);
        var hinge = HingeLoss(v.PTable, v.QTable, v.UserIdx, v.PosIdx, v.NegIdx, batch.NegativesPerPositive, weights);
        Tensor? l2 = null;
        if (_config.L2 > 0)
        {
            // under lazy Adam the tables are the touched rows only: an L2 over whole tables would touch every row and
            // turn the lazy update dense; frozen memory is not regularised
            var sq = v.PTable.Squared().sum().Plus(v.QTable.Squared().sum());
            if (_config.TrainMemory) sq = sq.Plus(_net.K.Squared().sum()).Plus(_net.M.Squared().sum());
            l2 = sq.mul(_halfL2);
        }
        var loss = l2 is null ? hinge : hinge.Plus(l2);
        if (backward)
        {
            _net.zero_grad();
            loss.backward();
        }
        return new Pass(loss, hinge, l2, v);
    }

    // ───────────────────────────── step ─────────────────────────────

    /// <summary>Hinge part of the loss of the last <see cref="TrainStep"/> (for logs).</summary>
    public double LastHingeLoss { get; private set; }

    /// <summary>L2 part of the loss of the last <see cref="TrainStep"/> (0 when λ = 0).</summary>
    public double LastL2Loss { get; private set; }

    /// <inheritdoc/>
    public double TrainStep(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var pass = ForwardBackward(batch, backward: true, advanceWarp: true);
        if (_config.TrainMemory) AccumulateMemoryGradientNorms();
        if (_optimizer.IsLazy)
        {
            var grads = pass.Views.LazyGradients(_optimizer.Names.Count);
            if (_config.TrainMemory) { grads[2] = (null, _net.K.grad); grads[3] = (null, _net.M.grad); }
            _optimizer.StepLazy(grads, _config.GradClipValue, _config.GradClipNorm);
        }
        else
        {
            _optimizer.StepDense(_config.GradClipValue, _config.GradClipNorm);
        }
        if (_config.NormConstraint == NormConstraint.Project)
        {
            // only the rows this batch touched: under dense Adam, rows absent from the batch still move (decaying
            // moments) and are projected when a later batch touches them
            TorchSupport.ProjectRows(_net.P, pass.Views.UniqueUsers);
            TorchSupport.ProjectRows(_net.Q, pass.Views.UniqueItems);
        }
        LastHingeLoss = TorchSupport.Scalar(pass.Hinge);
        LastL2Loss = pass.L2 is null ? 0 : TorchSupport.Scalar(pass.L2);
        return LastHingeLoss + LastL2Loss;
    }

    private double _gradSumK, _gradSumM;
    private int _gradSteps;

    /// <summary>Adds this step's ‖∂hinge/∂K‖ and ‖∂hinge/∂M‖ (the L2 term λθ taken out of .grad) before clipping and the step.</summary>
    private void AccumulateMemoryGradientNorms()
    {
        using var noGrad = no_grad();
        double Norm(Parameter w)
        {
            if (w.grad is not { } g) return 0;
            var hinge = _config.L2 > 0 ? g - w.mul(_l2) : g;
            return TorchSupport.Scalar(hinge.Squared().sum().sqrt());
        }
        _gradSumK += Norm(_net.K);
        _gradSumM += Norm(_net.M);
        _gradSteps++;
    }

    /// <inheritdoc/>
    public MemoryGradientNorms TakeMemoryGradientNorms()
    {
        var taken = new MemoryGradientNorms(_gradSumK, _gradSumM, _gradSteps);
        _gradSumK = _gradSumM = 0;
        _gradSteps = 0;
        return taken;
    }

    /// <summary>The loss the next <see cref="TrainStep"/> would report on <paramref name="batch"/>, without updating anything.</summary>
    internal double ComputeLoss(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var pass = ForwardBackward(batch, backward: false);
        return TorchSupport.Scalar(pass.Loss);
    }

    /// <summary>
    /// Loss and the gradient of every parameter (dense arrays, row-major; zeros for untouched rows, K/M
    /// gradients zero when memory is frozen), exactly as <see cref="TrainStep"/> computes them before clipping,
    /// without updating anything.
    /// </summary>
    internal (double Loss, double[] P, double[] Q, double[] K, double[] M) ComputeGradients(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var pass = ForwardBackward(batch, backward: true);
        double[] gp = pass.Views.DenseGradP(_net.P), gq = pass.Views.DenseGradQ(_net.Q);
        var gk = _net.K.grad is { } k ? TorchSupport.ToDoubles(k) : new double[_net.K.numel()];
        var gm = _net.M.grad is { } m ? TorchSupport.ToDoubles(m) : new double[_net.M.numel()];
        _net.zero_grad();
        return (TorchSupport.Scalar(pass.Loss), gp, gq, gk, gm);
    }

    // ───────────────────────────── scoring and explanations ─────────────────────────────

    /// <summary>Default element budget of one per-chunk intermediate in <see cref="ScoreAllItems"/>
    /// (users_chunk × items_chunk × max(d, N) values ≈ 32 MB in float32).</summary>
    public const long DefaultScoreBudget = 8L << 20;

    /// <summary>Budget (elements) of one per-chunk intermediate in <see cref="ScoreAllItems"/>.</summary>
    public long ScoreBudget { get; set; } = DefaultScoreBudget;

    /// <inheritdoc/>
    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores) =>
        TorchSupport.ScorePairsChunked(users, items, scores, NumUsers, NumItems, _device, (uIdx, iIdx) =>
        {
            var p = Constrain(_net.P.index_select(0, uIdx));
            var q = Constrain(_net.Q.index_select(0, iIdx));
            var (_, r) = Relation(p, q);
            return Distance(p.Plus(r) - q).neg();
        });

    /// <inheritdoc/>
    /// <remarks>Attention is per (user, item) pair, so the work is chunked over users AND items: one chunk holds
    /// users_chunk × items_chunk × max(d, N) values per intermediate, bounded by <see cref="ScoreBudget"/>.</remarks>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores) =>
        TorchSupport.ScoreAllChunked(users, scores, NumUsers, NumItems, Math.Max(Dim, Slots), ScoreBudget, _device,
            (uIdx, i0, n) =>
            {
                var p = Constrain(_net.P.index_select(0, uIdx)).unsqueeze(1);   // users × 1 × d
                var q = Constrain(_net.Q.narrow(0, i0, n)).unsqueeze(0);        // 1 × items × d
                var (_, r) = Relation(p, q);                                    // users × items × d
                return Distance(r.add_(p, KeptScalars.One).sub_(q)).neg_();
            });

    /// <inheritdoc/>
    public void Explain(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> attention, Span<float> relation)
    {
        if (users.Length != items.Length) throw new ArgumentException("users and items differ in length.");
        if (attention.Length != (long)users.Length * Slots) throw new ArgumentException($"attention must hold pairs × N = {(long)users.Length * Slots} values.");
        if (relation.Length != (long)users.Length * Dim) throw new ArgumentException($"relation must hold pairs × d = {(long)users.Length * Dim} values.");
        TorchSupport.CheckRange(users, NumUsers, "user");
        TorchSupport.CheckRange(items, NumItems, "item");
        using var noGrad = no_grad();
        for (int start = 0; start < users.Length; start += TorchSupport.PairChunk)
        {
            int len = Math.Min(TorchSupport.PairChunk, users.Length - start);
            using var scope = NewDisposeScope();
            var p = Constrain(_net.P.index_select(0, TorchSupport.Index(users.Slice(start, len), _device)));
            var q = Constrain(_net.Q.index_select(0, TorchSupport.Index(items.Slice(start, len), _device)));
            var (a, r) = Relation(p, q);
            TorchSupport.CopyTo(a, attention.Slice(start * Slots, len * Slots));
            TorchSupport.CopyTo(r, relation.Slice(start * Dim, len * Dim));
        }
    }

    /// <inheritdoc/>
    public (float[] Users, float[] Items) EffectiveEmbeddings(ReadOnlySpan<int> users, ReadOnlySpan<int> items)
    {
        TorchSupport.CheckRange(users, NumUsers, "user");
        TorchSupport.CheckRange(items, NumItems, "item");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var p = Constrain(_net.P.index_select(0, TorchSupport.Index(users, _device)));
        var q = Constrain(_net.Q.index_select(0, TorchSupport.Index(items, _device)));
        return (TorchSupport.ToFloats(p), TorchSupport.ToFloats(q));
    }

    // ───────────────────────────── state ─────────────────────────────

    private const int StateVersion = 1;

    /// <inheritdoc/>
    public LrmlParameters ExportParameters() => new(NumUsers, NumItems, Dim, Slots,
        TorchSupport.ToFloats(_net.P), TorchSupport.ToFloats(_net.Q), TorchSupport.ToFloats(_net.K), TorchSupport.ToFloats(_net.M));

    /// <inheritdoc/>
    public bool ParametersAreFinite() => TorchSupport.AllFinite(_net);
    /// <inheritdoc/>
    public double MaxAbsParameter() => TorchSupport.MaxAbs(_net);

    /// <inheritdoc/>
    /// <remarks>Format: a header (magic, version, shapes, dtype, optimiser, memory flag), the module's state dict
    /// (TorchSharp format, keys P, Q, K, M) and the optimiser state.</remarks>
    /// <remarks>With WARP weighting the sampler's random state follows (32 bytes), so a restored model draws the same negatives.</remarks>
    public byte[] SaveState()
    {
        var blob = TorchSupport.SaveState(_net, _optimizer, WriteHeader);
        return _warp is null ? blob : TorchSupport.WithRngState(blob, _warp.Rng);
    }

    /// <inheritdoc/>
    public void LoadState(byte[] state)
    {
        if (_warp is null) { TorchSupport.LoadState(state, _net, _optimizer, CheckHeader); return; }
        var blob = TorchSupport.WithoutRngState(state, "Not an LRML-TORCH-STATE with WARP sampler state.", out var rng);
        TorchSupport.LoadState(blob, _net, _optimizer, CheckHeader);
        _warp.Rng.SetState(rng);
    }

    private void WriteHeader(BinaryWriter w)
    {
        w.Write("LRML-TORCH-STATE"); w.Write(StateVersion);
        w.Write(NumUsers); w.Write(NumItems); w.Write(Dim); w.Write(Slots);
        w.Write((int)_dtype); w.Write((int)_config.Optimizer); w.Write(_config.TrainMemory);
    }

    private void CheckHeader(BinaryReader r)
    {
        string magic = r.ReadString();
        if (magic != "LRML-TORCH-STATE") throw new InvalidDataException("Not an LRML TorchSharp state.");
        int version = r.ReadInt32();
        if (version != StateVersion) throw new InvalidDataException($"Unsupported LRML state version {version}.");
        var got = (r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), (ScalarType)r.ReadInt32(), (OptimizerKind)r.ReadInt32(), r.ReadBoolean());
        var want = (NumUsers, NumItems, Dim, Slots, _dtype, _config.Optimizer, _config.TrainMemory);
        if (got != want)
            throw new InvalidDataException($"State (users, items, d, N, dtype, optimiser, trainMemory) = {got} does not match this model's {want}.");
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object?> Describe()
    {
        var d = TorchSupport.DescribeConfig(Name, _config, NumUsers, NumItems, _dtype, _device);
        d["TrainableParameters"] = string.Join(",", _optimizer.Names);
        d["ClipScope"] = _config.NormConstraint == NormConstraint.Clip ? "clipped p, q used in key, translation and distance (training and scoring)" : "none";
        d["ProjectScope"] = _config.NormConstraint == NormConstraint.Project ? "all rows at start; rows touched by each batch after its step" : "none";
        d["L2Scope"] = _config.L2 <= 0 ? "off" : _optimizer.IsLazy ? "touched rows of P, Q + trainable K, M" : "whole trainable tensors";
        d["LossReduction"] = "sum over positives and their negatives";
        if (_config.Optimizer is OptimizerKind.Adam or OptimizerKind.LazyAdam)
        { d["AdamBeta1"] = ModelOptimizer.Beta1; d["AdamBeta2"] = ModelOptimizer.Beta2; d["AdamEpsilon"] = ModelOptimizer.AdamEpsilon; }
        if (_config.Optimizer == OptimizerKind.LazyAdam) d["LazyAdamStep"] = "global step count for bias correction; epsilon added to sqrt(v)";
        if (_config.Optimizer == OptimizerKind.Adagrad) d["AdagradEpsilon"] = ModelOptimizer.AdagradEpsilon;
        return d;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _optimizer.Dispose();
        _net.Dispose();
        foreach (var s in new[] { _margin, _distanceEpsilon, _attentionTemperature, _l2, _halfL2, _zeroInt }) s.Dispose();
    }
}
