using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Lrml.Util;

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
    [JsonPropertyName("kit_version")] public string KitVersion { get; init; } = typeof(RunResult).Assembly.GetName().Version?.ToString() ?? "";

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
