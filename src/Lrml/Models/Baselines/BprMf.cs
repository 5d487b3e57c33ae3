using Lrml.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lrml.Models;

/// <summary>BPR-MF hyper-parameters (Rendle et al., UAI 2009). Defaults are the kit's choice.</summary>
public sealed record BprConfig : IModelConfig
{
    /// <summary>Embedding dimension d (kit's choice, as LRML's default).</summary>
    public int Dim { get; init; } = 100;

    /// <summary>Learning rate (kit's choice for Adam).</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Optimiser (Adam default; LazyAdam, Adagrad, Sgd as for LRML). Rendle et al. used SGD.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Per-example L2 weight λ (BPR's regulariser on the rows of each sampled triple; Cornac's default 0.01).</summary>
    public float L2 { get; init; } = 0.01f;

    /// <summary>Whether x_ui includes a learned item bias b_i (not in the BPR paper's MF; off by default).</summary>
    public bool ItemBias { get; init; } = false;

    /// <summary>Standard deviation of the N(0, σ²) initialisation of P and Q (biases start at 0).</summary>
    public float InitStd { get; init; } = 0.1f;

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (Dim < 1) throw new ArgumentException($"Dim must be ≥ 1 (got {Dim}).");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"LearningRate must be a finite number > 0 (got {LearningRate}).");
        if (!(L2 >= 0)) throw new ArgumentException($"L2 must be ≥ 0 (got {L2}).");
        if (!(InitStd > 0)) throw new ArgumentException($"InitStd must be > 0 (got {InitStd}).");
    }
}

/// <summary>
/// BPR-MF — Bayesian Personalized Ranking with matrix factorisation. Steffen Rendle, Christoph Freudenthaler,
/// Zeno Gantner, Lars Schmidt-Thieme: "BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009,
/// pp. 452–461, arXiv 1205.2618.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>x_ui = p_u · q_i (+ b_i when <see cref="BprConfig.ItemBias"/>); score = x_ui.</item>
/// <item>Loss of a batch, summed over every sampled triple (u, i⁺, j) (k negatives per positive give k triples):
/// Σ −ln σ(x_ui⁺ − x_uj) + λ/2·(‖p_u‖² + ‖q_i⁺‖² + ‖q_j‖² [+ b_i⁺² + b_j²]) — BPR's per-example regulariser on
/// the rows of each triple (a row appearing in several triples is regularised once per appearance); −ln σ(x)
/// is computed as softplus(−x).</item>
/// <item>Initialisation P, Q ~ N(0, σ²) from <see cref="Rng"/> streams "bpr.init.P" / "bpr.init.Q"; biases 0.</item>
/// </list>
/// </remarks>
public sealed class BprMfModel : ITrainableRecommender
{
    /// <summary>The registry entry "bpr" (factory and memory sizing).</summary>
    internal static ModelEntry Entry { get; } = ModelEntry.Torch<BprConfig>("bpr", "BPR-MF",
        "Rendle et al. BPR: Bayesian Personalized Ranking from Implicit Feedback. UAI 2009.",
        (cfg, c, device) => new BprMfModel(cfg, c.NumUsers, c.NumItems, c.Seed, device))
        .Sized<BprConfig>((cfg, c) => ModelMemory.Embeddings(cfg.Dim, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive, extra: cfg.ItemBias ? c.NumItems : 0));

    private const int StateVersion = 1;

    private readonly BprConfig _config;
    private readonly EmbeddingNet _net;
    private readonly ModelOptimizer _optimizer;
    private readonly RowIndexer _userRows, _itemRows;
    private readonly Device _device;
    private readonly ScalarType _dtype;

    /// <summary>Creates a seeded model.</summary>
    public BprMfModel(BprConfig config, int numUsers, int numItems, long seed, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : this(config, numUsers, numItems, InitRows(config, numUsers, seed, "bpr.init.P"), InitRows(config, numItems, seed, "bpr.init.Q"),
               config.ItemBias ? new float[numItems] : null, device, dtype) { }

    /// <summary>Creates a model from given parameters (copied): users × d, items × d and, with
    /// <see cref="BprConfig.ItemBias"/>, one bias per item.</summary>
    public BprMfModel(BprConfig config, int numUsers, int numItems, float[] userEmbeddings, float[] itemEmbeddings, float[]? itemBiases,
        Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        EmbeddingNet.CheckEmbeddings(numUsers, numItems, config.Dim, userEmbeddings, itemEmbeddings);
        if (config.ItemBias != itemBiases is not null) throw new ArgumentException("itemBiases must be given exactly when ItemBias is on.");
        if (itemBiases is not null && itemBiases.Length != numItems) throw new ArgumentException("itemBiases has the wrong size.");
        _config = config;
        _device = device ?? CPU;
        _dtype = TorchSupport.CheckDType(dtype);
        _net = new EmbeddingNet("BPRMF", numUsers, numItems, config.Dim, userEmbeddings, itemEmbeddings, itemBiases, _dtype, _device);
        var trainable = new List<(string, Parameter)> { ("P", _net.P), ("Q", _net.Q) };
        if (_net.B is not null) trainable.Add(("B", _net.B));
        _optimizer = new ModelOptimizer(config.Optimizer, config.LearningRate, trainable);
        _userRows = new RowIndexer(numUsers);
        _itemRows = new RowIndexer(numItems);
    }

    private static float[] InitRows(BprConfig config, int rows, long seed, string stream)
    {
        config.Validate();
        return TorchSupport.GaussianInit((long)rows * config.Dim, config.InitStd, seed, stream);
    }

    /// <inheritdoc/>
    public string Name => "BPR-MF";
    /// <inheritdoc/>
    public int NumUsers => (int)_net.P.shape[0];
    /// <inheritdoc/>
    public int NumItems => (int)_net.Q.shape[0];

    /// <summary>The configuration the model was built with.</summary>
    public BprConfig Config => _config;

    /// <summary>Budget (elements) of one per-chunk intermediate in <see cref="ScoreAllItems"/>.</summary>
    public long ScoreBudget { get; set; } = LrmlModel.DefaultScoreBudget;

    internal Parameter P => _net.P;
    internal Parameter Q => _net.Q;
    internal Parameter? B => _net.B;

    /// <inheritdoc/>
    public double TrainStep(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var (loss, v) = ForwardBackward(batch, backward: true);
        if (_optimizer.IsLazy) _optimizer.StepLazy(v.LazyGradients(_optimizer.Names.Count), 0, 0);
        else _optimizer.StepDense(0, 0);
        return TorchSupport.Scalar(loss);
    }

    /// <summary>Loss and dense gradients (P, Q, item biases or empty) on a batch, as <see cref="TrainStep"/> computes them, without updating.</summary>
    internal (double Loss, double[] P, double[] Q, double[] B) ComputeGradients(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var (loss, v) = ForwardBackward(batch, backward: true);
        double[] gp = v.DenseGradP(_net.P), gq = v.DenseGradQ(_net.Q), gb = _net.B is null ? [] : v.DenseGradB(_net.B);
        _net.zero_grad();
        return (TorchSupport.Scalar(loss), gp, gq, gb);
    }

    private (Tensor Loss, BatchViews Views) ForwardBackward(TrainingBatch batch, bool backward)
    {
        var v = BatchViews.Of(batch, _net.P, _net.Q, _net.B, _userRows, _itemRows, _optimizer.IsLazy, backward, _device);
        int k = batch.NegativesPerPositive;
        var p = v.PTable.index_select(0, v.UserIdx);
        var qPos = v.QTable.index_select(0, v.PosIdx);
        var qNeg = v.QTable.index_select(0, v.NegIdx).view(batch.Count, k, -1);
        var xPos = (p * qPos).sum(-1);                                  // B
        var xNeg = (p.unsqueeze(1) * qNeg).sum(-1);                     // B × k
        // Plus, Squared, Softplus: a + b, square(), softplus with kept-alive Scalars (see KeptScalars)
        var regRows = p.Squared().sum(-1).Plus(qPos.Squared().sum(-1)); // B
        var regNeg = qNeg.Squared().sum(-1);                            // B × k
        if (v.BTable is not null)
        {
            var bPos = v.BTable.index_select(0, v.PosIdx);
            var bNeg = v.BTable.index_select(0, v.NegIdx).view(batch.Count, k);
            xPos = xPos.Plus(bPos); xNeg = xNeg.Plus(bNeg);
            regRows = regRows.Plus(bPos.Squared()); regNeg = regNeg.Plus(bNeg.Squared());
        }
        var ranking = (xNeg - xPos.unsqueeze(1)).Softplus().sum();
        var loss = ranking;
        if (_config.L2 > 0)
        {
            using Scalar kS = k.ToScalar(), l2 = (0.5 * _config.L2).ToScalar();
            loss = loss.Plus(regRows.sum().mul(kS).Plus(regNeg.sum()).mul(l2));
        }
        if (backward) { _net.zero_grad(); loss.backward(); }
        return (loss, v);
    }

    /// <inheritdoc/>
    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores) =>
        TorchSupport.ScorePairsChunked(users, items, scores, NumUsers, NumItems, _device, (uIdx, iIdx) =>
        {
            var x = (_net.P.index_select(0, uIdx) * _net.Q.index_select(0, iIdx)).sum(-1);
            return _net.B is null ? x : x.Plus(_net.B.index_select(0, iIdx));
        });

    /// <inheritdoc/>
    /// <remarks>Computed as P[users]·Q[chunk]ᵀ (+ b), chunked over items by <see cref="ScoreBudget"/>.</remarks>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores) =>
        TorchSupport.ScoreAllChunked(users, scores, NumUsers, NumItems, 1, ScoreBudget, _device,
            (uIdx, i0, n) =>
            {
                var x = _net.P.index_select(0, uIdx).matmul(_net.Q.narrow(0, i0, n).t());
                return _net.B is null ? x : x.Plus(_net.B.narrow(0, i0, n).unsqueeze(0));
            });

    /// <summary>User and item embeddings and item biases (empty without bias), as row-major copies.</summary>
    public (float[] Users, float[] Items, float[] ItemBiases) ExportParameters() =>
        (TorchSupport.ToFloats(_net.P), TorchSupport.ToFloats(_net.Q), _net.B is null ? [] : TorchSupport.ToFloats(_net.B));

    /// <inheritdoc/>
    public bool ParametersAreFinite() => TorchSupport.AllFinite(_net);
    /// <inheritdoc/>
    public double MaxAbsParameter() => TorchSupport.MaxAbs(_net);

    /// <inheritdoc/>
    public byte[] SaveState() => EmbeddingNet.Save("BPRMF-TORCH-STATE", StateVersion, _net, _optimizer, _dtype, (int)_config.Optimizer);

    /// <inheritdoc/>
    public void LoadState(byte[] state) => EmbeddingNet.Load(state, "BPRMF-TORCH-STATE", StateVersion, _net, _optimizer, _dtype, (int)_config.Optimizer);

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object?> Describe() => TorchSupport.DescribeConfig(Name, _config, NumUsers, NumItems, _dtype, _device);

    /// <inheritdoc/>
    public void Dispose()
    {
        _optimizer.Dispose();
        _net.Dispose();
    }
}
