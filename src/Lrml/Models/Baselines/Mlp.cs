using TorchSharp;
using static TorchSharp.torch;

namespace Lrml.Models;

/// <summary>MLP hyper-parameters (He et al., WWW 2017). Defaults are NCF's released settings (batch 256 and 4 negatives
/// are set on the trainer).</summary>
public sealed record MlpConfig : IModelConfig
{
    /// <summary>Tower as in NCF's code: Layers[0] is the concatenated embedding size (each embedding Layers[0]/2), Layers[1..]
    /// the ReLU hidden layers; the last is the predictive factors (NCF: [64,32,16,8]).</summary>
    public int[] Layers { get; init; } = [64, 32, 16, 8];

    /// <summary>Learning rate (NCF: Adam 1e-3).</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Optimiser: Adam (NCF), Sgd or Adagrad; LazyAdam (row-sparse) on the fused engine only.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Per-example L2 weight λ on the looked-up embedding rows (NCF's reg_layers[0]; default 0 as in NCF).</summary>
    public float L2 { get; init; } = 0f;

    /// <summary>Reduction of the log loss (NCF's Keras code averages over the batch).</summary>
    public LossReduction Reduction { get; init; } = LossReduction.Mean;

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate() => NcfChecks.Common(Layers ?? throw new ArgumentException("Layers must be given."), LearningRate, Optimizer, L2);
}

/// <summary>
/// MLP — the multi-layer perceptron of Neural Collaborative Filtering. Xiangnan He, Lizi Liao, Hanwang Zhang, Liqiang Nie,
/// Xia Hu, Tat-Seng Chua: "Neural Collaborative Filtering", WWW 2017, pp. 173–182, doi 10.1145/3038912.3052569 (§3.3).
/// </summary>
/// <remarks>
/// z = hᵀ a_L(… ReLU(W₁[p_u; q_i] + b₁) …) + b, ŷ = σ(z); score = z. Loss, initialisation and optimiser exactly as
/// <see cref="NeuMfModel"/> with only the MLP part (the three NCF models share one implementation).
/// </remarks>
public sealed class MlpModel : NcfModel<MlpConfig>
{
    /// <summary>The registry entry "mlp" (factory and memory sizing).</summary>
    internal static ModelEntry Entry { get; } = ModelEntry.Torch<MlpConfig>("mlp", "MLP",
        "He et al. Neural Collaborative Filtering. WWW 2017 (multi-layer perceptron).",
        (cfg, c, device) => new MlpModel(cfg, c.NumUsers, c.NumItems, c.Seed, device))
        .Sized<MlpConfig>((cfg, c) => ModelMemory.Ncf(0, cfg.Layers, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive));

    /// <summary>Creates a seeded model.</summary>
    public MlpModel(MlpConfig config, int numUsers, int numItems, long seed, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : this(config, NcfWeights.Init(numUsers, numItems, 0, Checked(config).Layers, seed), device, dtype) { }

    /// <summary>Creates a model from given weights (copied; GMF parts must be null).</summary>
    internal MlpModel(MlpConfig config, NcfWeights weights, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : base("MLP", "MLP-TORCH-STATE", config, BuildCore(config, weights, device, dtype)) { }

    private static MlpConfig Checked(MlpConfig c) { ArgumentNullException.ThrowIfNull(c); c.Validate(); NcfChecks.TorchOptimizer(c.Optimizer); return c; }

    private static NcfCore BuildCore(MlpConfig config, NcfWeights weights, Device? device, ScalarType dtype)
    {
        Checked(config);
        if (weights.MlpP is null || weights.GmfP is not null) throw new ArgumentException("MLP weights must have an MLP part and no GMF part.");
        return new NcfCore("MLP", weights, 0, config.Layers, config.Optimizer, config.LearningRate, config.L2, config.Reduction, device, dtype);
    }
}
