namespace Lrml.Training;

/// <summary>Settings of the training loop, shared by every model.</summary>
public sealed record TrainConfig
{
    /// <summary>Maximum number of epochs (passes over the training positives).</summary>
    public int Epochs { get; init; } = 30;

    /// <summary>Positives per mini-batch.</summary>
    public int BatchSize { get; init; } = Models.ModelBuildContext.DefaultBatchSize;

    /// <summary>Uniformly sampled negatives per positive (the paper's period used 1).</summary>
    public int NegativesPerPositive { get; init; } = Models.ModelBuildContext.DefaultNegativesPerPositive;

    /// <summary>Evaluate on the validation split every this many epochs (0 = never; then the last epoch is kept).</summary>
    public int EvalEvery { get; init; } = 1;

    /// <summary>Stop after this many evaluations without improvement (0 = no early stopping).</summary>
    public int Patience { get; init; } = 5;

    /// <summary>Validation metric that selects the best epoch (higher is better).</summary>
    public string ValidationMetric { get; init; } = "nDCG@10";

    /// <summary>Seed of the run: shuffling, negative sampling and initialisation derive their own streams from it.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Threads for compute (TorchSharp intra-op threads and the kit's own kernels).</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Whether to shuffle the training positives at every epoch.</summary>
    public bool Shuffle { get; init; } = true;

    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"Epochs must be ≥ 1 (got {Epochs}).");
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be ≥ 1 (got {BatchSize}).");
        if (NegativesPerPositive < 1) throw new ArgumentException($"NegativesPerPositive must be ≥ 1 (got {NegativesPerPositive}).");
        if (EvalEvery < 0) throw new ArgumentException($"EvalEvery must be ≥ 0 (got {EvalEvery}).");
        if (Patience < 0) throw new ArgumentException($"Patience must be ≥ 0 (got {Patience}).");
        if (Threads < 1) throw new ArgumentException($"Threads must be ≥ 1 (got {Threads}).");
    }
}
