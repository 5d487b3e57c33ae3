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

/// <summary>
/// LRML hyper-parameters (Tay, Luu, Hui, WWW 2018). Defaults follow the authors' released code
/// (see lrml-reference.md); values the paper does not state are marked as the kit's choice.
/// </summary>
public sealed record LrmlConfig
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
    }
}
