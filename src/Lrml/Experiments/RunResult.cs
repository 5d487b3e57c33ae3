using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Lrml.Util;

using Lrml.Models;

namespace Lrml.Experiments;

/// <summary>
/// The record of one training run, written as result.json in the run directory. The first fields are
/// the kit's stable schema (dataset, protocol, model, config, seed, metrics, train_seconds, epochs,
/// commit); the rest make the number re-runnable and comparable (validation metrics, full-ranking metrics,
/// timings, memory, machine, dataset checksum).
/// </summary>
public sealed class RunResult
{
    [JsonPropertyName("dataset")] public required string Dataset { get; init; }
    [JsonPropertyName("protocol")] public required string Protocol { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    /// <summary>Effective model and training configuration.</summary>
    [JsonPropertyName("config")] public required JsonObject Config { get; init; }
    [JsonPropertyName("seed")] public required long Seed { get; init; }
    /// <summary>Test metrics (sampled candidates when the protocol has them; full-ranking metrics are prefixed "full/").</summary>
    [JsonPropertyName("metrics")] public required SortedDictionary<string, double> Metrics { get; init; }
    [JsonPropertyName("train_seconds")] public required double TrainSeconds { get; init; }
    /// <summary>Epochs actually run.</summary>
    [JsonPropertyName("epochs")] public required int Epochs { get; init; }
    [JsonPropertyName("commit")] public required string Commit { get; init; }

    [JsonPropertyName("best_epoch")] public int BestEpoch { get; init; }
    [JsonPropertyName("validation_metrics")] public SortedDictionary<string, double> ValidationMetrics { get; init; } = new();
    [JsonPropertyName("seconds_per_epoch")] public double SecondsPerEpoch { get; init; }
    [JsonPropertyName("eval_seconds")] public double EvalSeconds { get; init; }
    [JsonPropertyName("peak_memory_mb")] public double PeakMemoryMb { get; init; }
    [JsonPropertyName("threads")] public int Threads { get; init; }
    [JsonPropertyName("stopped_early")] public bool StoppedEarly { get; init; }
    [JsonPropertyName("test_users")] public int TestUsers { get; init; }
    [JsonPropertyName("split")] public Dictionary<string, string> Split { get; init; } = new();
    [JsonPropertyName("dataset_provenance")] public Dictionary<string, string> DatasetProvenance { get; init; } = new();
    [JsonPropertyName("machine")] public Dictionary<string, string> Machine { get; init; } = new();
    [JsonPropertyName("started_utc")] public DateTime StartedUtc { get; init; }
    /// <summary>The run's best validation value next to the popularity baseline's on the same split, candidates and metric;
    /// null when the run had no validation (or is the popularity model).</summary>
    [JsonPropertyName("popularity_baseline")] public PopularityBaseline? PopularityBaseline { get; init; }
    /// <summary>Whether the run ended no better than popularity on validation (see <see cref="PopularityBaseline"/>).</summary>
    [JsonPropertyName("no_better_than_popularity")] public bool NoBetterThanPopularity => PopularityBaseline?.NoBetter ?? false;
    /// <summary>With <see cref="RunSpec.OracleEpoch"/>: the epoch a choice on the test set would have kept (highest test value
    /// of the validation metric) — optimistic by construction, shown only beside the honest <see cref="Metrics"/>.</summary>
    [JsonPropertyName("oracle_epoch"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? OracleEpoch { get; init; }
    /// <summary>The test metrics of <see cref="OracleEpoch"/> (sampled candidates when the split has them, else full ranking).</summary>
    [JsonPropertyName("oracle_test_metrics"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public SortedDictionary<string, double>? OracleTestMetrics { get; init; }
    /// <summary>With <see cref="RunSpec.RetrainOnValidation"/>: the test metrics of the model trained again on train + validation for
    /// <see cref="BestEpoch"/> epochs (reported beside, never instead of, <see cref="Metrics"/>).</summary>
    [JsonPropertyName("retrained_test_metrics"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public SortedDictionary<string, double>? RetrainedTestMetrics { get; set; }
    /// <summary>How much choosing the epoch on test adds to <paramref name="metric"/> (oracle minus honest), or null.</summary>
    public double? OracleGain(string metric) =>
        OracleTestMetrics is { } o && o.TryGetValue(metric, out double a) && Metrics.TryGetValue(metric, out double h) ? a - h : null;
    [JsonPropertyName("kit_version")] public string KitVersion { get; init; } = typeof(RunResult).Assembly.GetName().Version?.ToString() ?? "";

    /// <summary>The warning printed for a run no better than popularity, or null.</summary>
    [JsonIgnore]
    public string? PopularityWarning => PopularityBaseline is { NoBetter: true } b
        ? $"{Model} ended no better than popularity on validation ({b.Metric} {b.Model:F4} vs popularity {b.Popularity:F4} on the same " +
          "candidates): check that it trained (learning rate, epochs, the loss curve in epochs.jsonl) before using its numbers."
        : null;

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    /// <summary>Reads a result.json; throws a clear error naming the file when it is not one.</summary>
    public static RunResult Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<RunResult>(File.ReadAllText(path), Options)
                   ?? throw new InvalidDataException($"{path}: empty result file.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not a valid result.json ({ex.Message}).", ex);
        }
    }
}

/// <summary>A run's best validation value and the popularity baseline's on the same split, candidates and metric.</summary>
public sealed record PopularityBaseline
{
    /// <summary>The validation metric compared (the run's selection metric).</summary>
    [JsonPropertyName("metric")] public required string Metric { get; init; }
    /// <summary>The run's best validation value.</summary>
    [JsonPropertyName("model")] public required double Model { get; init; }
    /// <summary>Popularity's value (training counts of the same split).</summary>
    [JsonPropertyName("popularity")] public required double Popularity { get; init; }
    /// <summary>Whether the run is at or below popularity.</summary>
    [JsonIgnore] public bool NoBetter => !(Model > Popularity);
}
