using System.Text.Json.Serialization;

namespace Lrml.Models;

/// <summary>Distance between the translated user vector p + r and the item vector q.</summary>
public enum LrmlDistance
{
    /// <summary>sqrt(‖p + r − q‖² + 1e-3): the authors' code (default).</summary>
    SqrtL2,
    /// <summary>‖p + r − q‖²: used by most re-implementations.</summary>
    SquaredL2,
    /// <summary>‖p + r − q‖₁.</summary>
    L1,
}

/// <summary>Which relation vector the negative pair (u, i⁻) uses in the hinge loss.</summary>
public enum NegativeRelation
{
    /// <summary>Reuse the positive pair's r(u, i⁺) (authors' code, default).</summary>
    Reuse,
    /// <summary>Recompute r(u, i⁻) from the negative pair (HLR / CleverRec ports).</summary>
    Recompute,
}

/// <summary>How ‖p‖ ≤ 1 and ‖q‖ ≤ 1 are enforced.</summary>
public enum NormConstraint
{
    /// <summary>Clip the looked-up batch vectors inside the graph (authors' code, default): gradients
    /// flow through the clip; stored rows may exceed 1.</summary>
    Clip,
    /// <summary>Project the stored rows touched by a step back onto the unit ball after the step (CML style).</summary>
    Project,
    /// <summary>No constraint.</summary>
    None,
}

/// <summary>Optimiser semantics.</summary>
public enum OptimizerKind
{
    /// <summary>Adam over whole tensors (every row's moments decay every step): PyTorch/TF semantics.</summary>
    Adam,
    /// <summary>Lazy (row-sparse) Adam: only rows a batch touched are updated, with their moments;
    /// TF LazyAdam / PyTorch SparseAdam semantics. Much faster on large tables.</summary>
    LazyAdam,
    /// <summary>Plain SGD.</summary>
    Sgd,
    /// <summary>Adagrad.</summary>
    Adagrad,
}

/// <summary>How LRML weights each positive's hinge terms.</summary>
public enum LrmlRankWeighting
{
    /// <summary>Every hinge term has weight 1 (the LRML paper and the authors' code).</summary>
    None,
    /// <summary>WARP-style rank weighting, CML's trick (Hsieh et al., WWW 2017, §3.3, after Weston et al.'s WARP loss,
    /// IJCAI 2011) applied to LRML: the k hinge terms of a positive are multiplied by w = log(1 + ⌊J·M/U⌋), where M counts
    /// the impostors among U = <see cref="LrmlConfig.WarpNegatives"/> negatives the model samples for it and J is the number of
    /// items; no gradient flows through w.</summary>
    Warp,
}

/// <summary>
/// LRML hyper-parameters (Tay, Luu, Hui, WWW 2018). Defaults follow the authors' released code
/// (formulas, options and sources: README.md in this folder, section "Options where public ports disagree"); values the
/// paper does not state are marked as the kit's choice.
/// </summary>
public sealed record LrmlConfig : IModelConfig
{
    /// <summary>Embedding dimension d (kit's choice; later work uses 50 or 100).</summary>
    public int Dim { get; init; } = 100;

    /// <summary>Number of memory slots N (kit's choice; grids use 5–100, Figure 2 draws 6).</summary>
    public int Slots { get; init; } = 20;

    /// <summary>Hinge margin (kit's choice; grids use 0.1–1.0).</summary>
    public float Margin { get; init; } = 0.5f;

    /// <summary>Distance function (authors: sqrt-L2 with ε = 1e-3).</summary>
    public LrmlDistance Distance { get; init; } = LrmlDistance.SqrtL2;

    /// <summary>Relation used for the negative pair (authors: reuse).</summary>
    public NegativeRelation NegativeRelation { get; init; } = NegativeRelation.Reuse;

    /// <summary>Norm constraint (authors: clip in graph).</summary>
    public NormConstraint NormConstraint { get; init; } = NormConstraint.Clip;

    /// <summary>Initialisation scale σ: P, Q ~ U(−σ, σ); K, M ~ N(0, σ²).</summary>
    public float InitScale { get; init; } = 0.1f;

    /// <summary>L2 weight λ on all parameters (λ·½Σ‖θ‖² added to the batch loss); 0 = off.</summary>
    public float L2 { get; init; } = 0f;

    /// <summary>Per-tensor gradient clip: values clipped to ±GradClipValue, then norm to GradClipNorm; 0 = off.</summary>
    public float GradClipValue { get; init; } = 0f;

    /// <summary>Per-tensor gradient norm clip; 0 = off.</summary>
    public float GradClipNorm { get; init; } = 0f;

    /// <summary>Whether the memory (keys K and slices M) is trained; false freezes it at its initial value
    /// (an ablation).</summary>
    public bool TrainMemory { get; init; } = true;

    /// <summary>Learning rate.</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Optimiser.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>ε inside the square root of <see cref="LrmlDistance.SqrtL2"/>.</summary>
    public float DistanceEpsilon { get; init; } = 1e-3f;

    /// <summary>σ of the memory's initialisation K, M ~ N(0, σ²); null = <see cref="InitScale"/> (the authors' code uses one
    /// σ for every tensor). Kit option for a careful re-implementation: the attention logits s·K scale with σ_K, while σ of P
    /// and Q sets the embeddings' norms, so the two need not share a scale (per-tensor scales as in fan-in-based schemes,
    /// Glorot and Bengio, AISTATS 2010). Changes only K and M: P and Q draw from their own streams.</summary>
    public float? MemoryInitScale { get; init; }

    /// <summary>Softmax temperature τ of the attention: a = softmax(s·K / τ); 1 = the authors' code. With s = p ⊙ q of
    /// unit-ball vectors the entries of s are of order 1/d and the logits of order 10⁻², so the attention stays uniform unless
    /// K grows large; τ &lt; 1 rescales the logits as scaled dot-product attention does (Vaswani et al., NeurIPS 2017, divide
    /// by √d_k; here the logits are too small rather than too large) and as the key strength β = 1/τ of content-based
    /// addressing in Neural Turing Machines (Graves et al., 2014).</summary>
    public float AttentionTemperature { get; init; } = 1f;

    /// <summary>Learning rate of the memory K and M; null = <see cref="LearningRate"/> (the authors' code). Per-tensor
    /// learning rates are common in memory-network and embedding code (e.g. Caffe's per-layer lr_mult, PyTorch parameter
    /// groups): with Adam each element moves at most about lr per step, so at lr = 5e-4 a few thousand steps cannot grow K
    /// from σ = 0.1 to the scale its logits would need.</summary>
    public float? MemoryLearningRate { get; init; }

    /// <summary>Rank weighting of the hinge terms: none (the paper, default) or warp (CML's WARP-style weighting).</summary>
    public LrmlRankWeighting RankWeighting { get; init; } = LrmlRankWeighting.None;

    /// <summary>U, the negatives sampled per positive to estimate its rank under WARP weighting (kit's choice 20, as CML's
    /// option in this kit).</summary>
    public int WarpNegatives { get; init; } = 20;

    /// <summary>σ of K and M actually used (<see cref="MemoryInitScale"/> or <see cref="InitScale"/>).</summary>
    [JsonIgnore]
    public float EffectiveMemoryInitScale => MemoryInitScale ?? InitScale;

    /// <summary>Learning rate of K and M actually used (<see cref="MemoryLearningRate"/> or <see cref="LearningRate"/>).</summary>
    [JsonIgnore]
    public float EffectiveMemoryLearningRate => MemoryLearningRate ?? LearningRate;

    /// <summary>The same model with every "null = follow another setting" resolved (equal resolved configs train the same model).</summary>
    public LrmlConfig Resolved() => this with { MemoryInitScale = EffectiveMemoryInitScale, MemoryLearningRate = EffectiveMemoryLearningRate };

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (Dim < 1) throw new ArgumentException($"Dim must be ≥ 1 (got {Dim}).");
        if (Slots < 1) throw new ArgumentException($"Slots must be ≥ 1 (got {Slots}).");
        if (!(Margin >= 0) || float.IsInfinity(Margin)) throw new ArgumentException($"Margin must be a finite value ≥ 0 (got {Margin}).");
        if (!(InitScale > 0)) throw new ArgumentException($"InitScale must be > 0 (got {InitScale}).");
        if (!(L2 >= 0)) throw new ArgumentException($"L2 must be ≥ 0 (got {L2}).");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"LearningRate must be a finite number > 0 (got {LearningRate}).");
        if (!(GradClipValue >= 0) || !(GradClipNorm >= 0)) throw new ArgumentException("Gradient clips must be ≥ 0.");
        if (MemoryInitScale is { } ms && !(ms > 0 && float.IsFinite(ms))) throw new ArgumentException($"MemoryInitScale must be > 0 (got {ms}).");
        if (!(AttentionTemperature > 0) || float.IsInfinity(AttentionTemperature))
            throw new ArgumentException($"AttentionTemperature must be a finite value > 0 (got {AttentionTemperature}).");
        if (MemoryLearningRate is { } mlr && !(mlr > 0 && float.IsFinite(mlr))) throw new ArgumentException($"MemoryLearningRate must be > 0 (got {mlr}).");
        if (WarpNegatives < 1) throw new ArgumentException($"WarpNegatives must be ≥ 1 (got {WarpNegatives}).");
    }
}
