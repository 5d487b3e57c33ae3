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

    /// <summary>Early stopping never ends a run before this epoch (0 = from the first evaluation): a slow starter whose validation
    /// metric is flat for its first epochs while its loss still falls is not cut off at random or popularity level. It does
    /// not change when the best epoch is kept, only when patience may end the run. Not in a run's identity while 0, so
    /// identities of runs from before the setting stay valid.</summary>
    public int MinEpochs { get; init; }

    /// <summary>Validation metric that selects the best epoch (higher is better).</summary>
    public string ValidationMetric { get; init; } = "nDCG@10";

    /// <summary>Seed of the run: shuffling, negative sampling and initialisation derive their own streams from it.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Threads for compute (TorchSharp intra-op threads and the kit's own kernels).</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Whether to shuffle the training positives at every epoch.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>The settings as they enter a run's identity: every setting, minus <see cref="MinEpochs"/> while it is 0.</summary>
    internal System.Text.Json.Nodes.JsonObject IdentityJson()
    {
        var json = Models.ConfigBinder.ToJson(this);
        if (MinEpochs == 0) json.Remove(Models.ConfigBinder.Key<TrainConfig>(t => t.MinEpochs));
        return json;
    }

    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"Epochs must be ≥ 1 (got {Epochs}).");
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be ≥ 1 (got {BatchSize}).");
        if (NegativesPerPositive < 1) throw new ArgumentException($"NegativesPerPositive must be ≥ 1 (got {NegativesPerPositive}).");
        if (EvalEvery < 0) throw new ArgumentException($"EvalEvery must be ≥ 0 (got {EvalEvery}).");
        if (Patience < 0) throw new ArgumentException($"Patience must be ≥ 0 (got {Patience}).");
        if (MinEpochs < 0) throw new ArgumentException($"MinEpochs must be ≥ 0 (got {MinEpochs}).");
        if (Threads < 1) throw new ArgumentException($"Threads must be ≥ 1 (got {Threads}).");
    }
}
