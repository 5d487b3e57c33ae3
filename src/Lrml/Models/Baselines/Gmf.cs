using TorchSharp;
using static TorchSharp.torch;

namespace Lrml.Models;

/// <summary>GMF hyper-parameters (He et al., WWW 2017). Defaults are NCF's released settings (batch 256 and 4 negatives
/// are set on the trainer).</summary>
public sealed record GmfConfig : IModelConfig
{
    /// <summary>Predictive factors = embedding size (NCF's num_factors; the paper uses 8–64).</summary>
    public int Dim { get; init; } = 8;

    /// <summary>Learning rate (NCF: Adam 1e-3).</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Optimiser: Adam (NCF), Sgd or Adagrad; LazyAdam (row-sparse) on the fused engine only.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Per-example L2 weight λ on the looked-up embedding rows (NCF's regs; default 0 as in NCF).</summary>
    public float L2 { get; init; } = 0f;

    /// <summary>Reduction of the log loss (NCF's Keras code averages over the batch).</summary>
    public LossReduction Reduction { get; init; } = LossReduction.Mean;

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (Dim < 1) throw new ArgumentException($"Dim must be ≥ 1 (got {Dim}).");
        NcfChecks.Common(null, LearningRate, Optimizer, L2);
    }
}

/// <summary>
/// GMF — Generalized Matrix Factorization. Xiangnan He, Lizi Liao, Hanwang Zhang, Liqiang Nie, Xia Hu, Tat-Seng Chua:
/// "Neural Collaborative Filtering", WWW 2017, pp. 173–182, doi 10.1145/3038912.3052569 (§3.2).
/// </summary>
/// <remarks>
/// z = hᵀ(p_u ⊙ q_i) + b, ŷ = σ(z); score = z. Loss, initialisation and optimiser exactly as <see cref="NeuMfModel"/>
/// with only the GMF part (the three NCF models share one implementation).
/// </remarks>
public sealed class GmfModel : NcfModel<GmfConfig>
{
    /// <summary>The registry entry "gmf" (factory and memory sizing).</summary>
    internal static ModelEntry Entry { get; } = ModelEntry.Torch<GmfConfig>("gmf", "GMF",
        "He et al. Neural Collaborative Filtering. WWW 2017 (generalized matrix factorization).",
        (cfg, c, device) => new GmfModel(cfg, c.NumUsers, c.NumItems, c.Seed, device))
        .Sized<GmfConfig>((cfg, c) => ModelMemory.Ncf(cfg.Dim, null, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive));

    /// <summary>Creates a seeded model.</summary>
    public GmfModel(GmfConfig config, int numUsers, int numItems, long seed, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : this(config, NcfWeights.Init(numUsers, numItems, Checked(config).Dim, null, seed), device, dtype) { }

    /// <summary>Creates a model from given weights (copied; MLP parts must be null).</summary>
    internal GmfModel(GmfConfig config, NcfWeights weights, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : base("GMF", "GMF-TORCH-STATE", config, BuildCore(config, weights, device, dtype)) { }

    private static GmfConfig Checked(GmfConfig c) { ArgumentNullException.ThrowIfNull(c); c.Validate(); NcfChecks.TorchOptimizer(c.Optimizer); return c; }

    private static NcfCore BuildCore(GmfConfig config, NcfWeights weights, Device? device, ScalarType dtype)
    {
        Checked(config);
        if (weights.GmfP is null || weights.MlpP is not null) throw new ArgumentException("GMF weights must have a GMF part and no MLP part.");
        return new NcfCore("GMF", weights, config.Dim, null, config.Optimizer, config.LearningRate, config.L2, config.Reduction, device, dtype);
    }
}
