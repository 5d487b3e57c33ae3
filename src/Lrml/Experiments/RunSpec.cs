using Lrml.Training;

using Lrml.Models;

namespace Lrml.Experiments;

/// <summary>
/// Everything that defines one training run: which data, which protocol, which model with which
/// settings, and the training loop. The split seed is separate from the run seed on purpose: every model
/// and every run seed of an experiment sees the same split and the same frozen candidates.
/// </summary>
public sealed record RunSpec
{
    /// <summary>Dataset name (see <c>lrml data list</c>), e.g. "ml-1m", "ml-100k", "synthetic".</summary>
    public required string Dataset { get; init; }

    /// <summary>Protocol name, or null for the dataset's default (ncf for ml-1m when its files exist,
    /// leave-last-out when timestamps exist, random leave-one-out otherwise).</summary>
    public string? Protocol { get; init; }

    /// <summary>Model name, e.g. "lrml", "cml", "bpr", "pop".</summary>
    public required string Model { get; init; }

    /// <summary>Model settings as key=value overrides of the model's config record.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; } = Array.Empty<KeyValuePair<string, string>>();

    /// <summary>Compute engine for models that have several: "fused" (CPU fast path), "torch" (TorchSharp
    /// reference, CPU or CUDA); null picks the model's default.</summary>
    public string? Engine { get; init; }

    /// <summary>Training loop settings (epochs, batch, negatives, seed, threads, early stopping).</summary>
    public TrainConfig Train { get; init; } = new();

    /// <summary>Seed of the split and its sampled candidates (kept fixed across run seeds).</summary>
    public long SplitSeed { get; init; } = 20180423;

    /// <summary>Sampled negatives per held-out item, or null for the protocol's default: 99 for ncf (as its
    /// published test negatives, also used for its sampled validation), 100 otherwise.</summary>
    public int? SampledNegatives { get; init; }

    /// <summary>The effective number of sampled negatives under a protocol.</summary>
    public int SampledNegativesFor(string protocol) => SampledNegatives ?? (protocol == "ncf" ? 99 : 100);

    /// <summary>Also compute full-ranking test metrics (all items except known ones), reported as "full/…".</summary>
    public bool FullRanking { get; init; } = true;

    /// <summary>Metric cut-offs.</summary>
    public int[] Ks { get; init; } = [10];

    /// <summary>TorchSharp device of the torch engine: "cpu", "cuda" or "cuda:N" (CUDA needs the CUDA build, see
    /// environment.md). Part of the identity only when it is not "cpu", so CPU runs keep their identities.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Write a resumable checkpoint every this many batches inside an epoch (0 = at epoch ends only).
    /// Not part of the run's identity: changing it does not change results.</summary>
    public int CheckpointEverySteps { get; init; }

    /// <summary>Validate with sampled candidates (true) or full ranking (false).</summary>
    public bool SampledValidation { get; init; } = true;

    /// <summary>Also evaluate the test split after every epoch and report the epoch a test-set choice would have kept (the
    /// "oracle epoch", as reported-best numbers of the NCF code choose it) beside the honest result, to show how much
    /// choosing the epoch on test inflates a number. Never used for any choice; part of the identity only when on.</summary>
    public bool OracleEpoch { get; init; }

    /// <summary>After training, train the same configuration again from scratch on train + validation for the validation-chosen
    /// number of epochs, and report its test metrics separately (the protocol of Rendle et al. 2019/2020, which does not waste
    /// the validation interactions); the default result stays the validation-held-out model's. Part of the identity only when on.</summary>
    public bool RetrainOnValidation { get; init; }

}
