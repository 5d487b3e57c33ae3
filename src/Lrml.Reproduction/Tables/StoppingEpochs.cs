using System.Globalization;
using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Util;

namespace Lrml.Reproduction;

/// <summary>
/// The epochs recorded runs trained before early stopping ended them, by <see cref="KeyOf">run identity without the thread
/// count</see>. Training is deterministic (seeded; the fused engines, every full-profile model's default, are bit-identical
/// for any thread count), so a planned run with the same data checksums, settings and seed stops at the recorded epoch, up
/// to the last bits of another vector width (ARM; x64 machines with AVX2 and with AVX-512 compute the same bits for every
/// preset; an estimate tolerates an epoch off). The kit ships the record of its own
/// full-profile main table (<c>Tables/stopping-epochs.json</c>, written by <c>lrml reproduce main-table
/// --record-stopping-epochs</c>), so that a fresh machine's estimate expects the epochs early stopping takes instead of
/// every run's maximum. A changed preset or dataset changes the identity, and the run falls back to the typical epochs of
/// finished runs of its model, else its maximum (<see cref="TypicalEpochs"/>).
/// </summary>
public sealed class StoppingEpochs
{
    private const string Resource = "Lrml.Reproduction.stopping-epochs.json";
    private readonly IReadOnlyDictionary<string, int> _byKey;

    /// <summary>Recorded epochs by <see cref="KeyOf"/> key.</summary>
    public IReadOnlyDictionary<string, int> ByKey => _byKey;

    /// <summary>Where the record comes from, in words (the command, commit and date that produced it).</summary>
    public string Source { get; }

    /// <summary>A record from explicit epochs (tests).</summary>
    public StoppingEpochs(IReadOnlyDictionary<string, int> byKey, string source)
    {
        _byKey = byKey ?? throw new ArgumentNullException(nameof(byKey));
        Source = source ?? throw new ArgumentNullException(nameof(source));
    }

    /// <summary>No record: every run without finished runs to learn from counts its maximum epochs.</summary>
    public static StoppingEpochs None { get; } = new(new Dictionary<string, int>(), "no record");

    /// <summary>The record shipped with the kit (embedded <c>Tables/stopping-epochs.json</c>).</summary>
    public static StoppingEpochs Shipped => _shipped.Value;

    private static readonly Lazy<StoppingEpochs> _shipped = new(() =>
    {
        using var s = typeof(StoppingEpochs).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"The embedded resource {Resource} is missing from the build.");
        using var reader = new StreamReader(s);
        return Parse(reader.ReadToEnd(), "Tables/stopping-epochs.json");
    });

    private IReadOnlyList<(string Dataset, string Model, int Epochs)> _labelled = [];

    /// <summary>The median recorded epochs per model of the runs on <paramref name="dataset"/> (the record's "dataset" and
    /// "model" labels), as typical epochs — a prior for runs that are not themselves recorded, e.g. <c>lrml bench</c>'s
    /// projection on a synthetic dataset of the same shape; null when the record has no run on it.</summary>
    public TypicalEpochs? TypicalFor(string dataset)
    {
        var runs = _labelled.Where(r => r.Dataset == dataset).ToList();
        if (runs.Count == 0) return null;
        var medians = runs.GroupBy(r => Models.ModelRegistry.Get(r.Model).Name)
            .ToDictionary(g => g.Key, g => MathNet.Numerics.Statistics.Statistics.Median(g.Select(r => (double)r.Epochs)));
        var ci = CultureInfo.InvariantCulture;
        return new TypicalEpochs(medians, $"{runs.Count.ToString(ci)} runs on {dataset} in the kit's record of {Source} (median epochs per model: " +
            string.Join(", ", medians.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + " " + kv.Value.ToString("0.#", ci))) + ")");
    }

    /// <summary>The recorded epochs of a run, or null when no recorded run has its <see cref="KeyOf"/> key.</summary>
    public int? For(string key) => _byKey.TryGetValue(key, out int e) ? e : null;

    /// <summary>The key a run is recorded under: its <see cref="RunIdentity"/> with the thread count left out (the fused
    /// engines stop at the same epoch on any number of threads), 16 hex digits.</summary>
    public static string KeyOf(RunIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        var parts = (JsonObject)identity.Parts.DeepClone();
        (parts["train"] as JsonObject)?.Remove("threads");
        return new RunIdentity(parts).Key;
    }

    /// <summary>Reads a record: <c>{"source": "…", "runs": [{"key": "…", "dataset": "…", "model": "…", "seed": n, "epochs": n}, …]}</c>.
    /// A malformed file names itself, the entry and the reason in a <see cref="DataFormatException"/>.</summary>
    public static StoppingEpochs Parse(string json, string file)
    {
        JsonObject root;
        try { root = JsonNode.Parse(json) as JsonObject ?? throw new DataFormatException(file, 1, "expected a JSON object with \"source\" and \"runs\"."); }
        catch (System.Text.Json.JsonException e) { throw new DataFormatException(file, (int)(e.LineNumber ?? 0) + 1, $"not valid JSON ({e.Message})", e); }
        string source = root["source"] is JsonValue sv && sv.TryGetValue(out string? text) && text.Length > 0
            ? text : throw new DataFormatException(file, 1, "\"source\" (what produced the record) is missing or empty.");
        if (root["runs"] is not JsonArray runs) throw new DataFormatException(file, 1, "\"runs\" (an array of recorded runs) is missing.");
        var byKey = new Dictionary<string, int>(StringComparer.Ordinal);
        var labelled = new List<(string, string, int)>();
        for (int i = 0; i < runs.Count; i++)
        {
            if (runs[i] is not JsonObject run) throw new DataFormatException(file, 0, $"runs[{i}] is not an object.");
            string? key = run["key"] is JsonValue kv && kv.TryGetValue(out string? k) ? k : null;
            int? epochs = run["epochs"] is JsonValue ev && ev.TryGetValue(out int n) ? n : null;
            if (string.IsNullOrEmpty(key) || epochs is null || epochs < 0)
                throw new DataFormatException(file, 0, $"runs[{i}] needs a \"key\" (a run identity) and a non-negative integer \"epochs\".");
            if (!byKey.TryAdd(key, epochs.Value))
                throw new DataFormatException(file, 0, $"runs[{i}]: the key {key} is recorded twice.");
            if (run["dataset"] is JsonValue dv && dv.TryGetValue(out string? dataset) && run["model"] is JsonValue mv && mv.TryGetValue(out string? model))
                labelled.Add((dataset, model, epochs.Value));
        }
        return new StoppingEpochs(byKey, source) { _labelled = labelled };
    }

    /// <summary>The record of every finished trained run under <paramref name="directory"/> (a main table's output folder: its
    /// <c>runs/&lt;dataset&gt;/&lt;run&gt;/</c> with spec.json and result.json), as JSON, one run per line in path order. A run
    /// folder whose result or stored identity is unreadable, or whose identity does not hash to its stored key, names itself.</summary>
    public static string Record(string directory, string source)
    {
        // "<hash>[-dirty] (build stamp)" → 12 digits of the hash, keeping git's "-dirty": a tree with uncommitted changes
        // trained those runs, and the record must not say the commit alone did
        static string ShortCommit(string c)
        {
            string hash = c.Split(' ')[0];
            bool dirty = hash.EndsWith("-dirty", StringComparison.Ordinal);
            if (dirty) hash = hash[..^"-dirty".Length];
            return (hash.Length > 12 ? hash[..12] : hash) + (dirty ? "-dirty" : "");
        }
        ArgumentNullException.ThrowIfNull(directory);
        string runsDir = Path.Combine(directory, "runs");
        if (!Directory.Exists(runsDir)) throw new DirectoryNotFoundException($"No runs to record: {runsDir} does not exist.");
        var runs = new List<JsonObject>();
        var commits = new SortedSet<string>(StringComparer.Ordinal);
        var started = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var run in FinishedRun.ReadAll(runsDir))
        {
            string spec = Path.Combine(run.Directory, "spec.json");
            JsonNode? stored;
            try { stored = File.Exists(spec) ? JsonNode.Parse(File.ReadAllText(spec)) : null; }
            catch (System.Text.Json.JsonException e) { throw new DataFormatException(spec, (int)(e.LineNumber ?? 0) + 1, $"not valid JSON ({e.Message})", e); }
            if (stored?["identity"] is not JsonObject parts || (string?)stored["key"] is not { } key)
                throw new DataFormatException(spec, 0, "no stored \"identity\" and \"key\": not a finished run folder.");
            var identity = new RunIdentity((JsonObject)parts.DeepClone());
            if (identity.Key != key) throw new DataFormatException(spec, 0, $"the stored identity hashes to {identity.Key}, not to its key {key}.");
            if (run.Result["commit"] is JsonValue cv && cv.TryGetValue(out string? commit) && commit.Length > 0) commits.Add(ShortCommit(commit));
            if (run.Result["started_utc"] is JsonValue sv && sv.TryGetValue(out string? day) && day.Length >= 10) started.Add(day[..10]);
            runs.Add(new JsonObject
            {
                ["key"] = KeyOf(identity), ["dataset"] = run.Result["dataset"]?.DeepClone(), ["model"] = run.Model,
                ["seed"] = run.Result["seed"]?.DeepClone(), ["epochs"] = run.Epochs,
            });
        }
        if (runs.Count == 0) throw new InvalidDataException($"No finished trained runs under {runsDir} to record.");
        if (commits.Count > 0 || started.Count > 0)   // what trained them: the runs' own provenance, not the recording kit's
            source += $" (trained by kit commit {(commits.Count > 0 ? string.Join(", ", commits) : "unknown")}" +
                      (started.Count > 0 ? $", {started.Min}{(started.Count > 1 ? " – " + started.Max : "")}" : "") + ")";
        // one run per line, readable in a diff
        var plain = new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        return "{\n  \"source\": " + JsonValue.Create(source).ToJsonString(plain) + ",\n  \"runs\": [\n    " +
               string.Join(",\n    ", runs.Select(r => r.ToJsonString(plain))) + "\n  ]\n}\n";
    }

    /// <summary>Writes <see cref="Record"/> to <paramref name="file"/> atomically, after reading it back (two runs of the same
    /// computation, say, are refused before anything is replaced); returns the number of runs recorded.</summary>
    public static int WriteRecord(string directory, string file, string source)
    {
        string json = Record(directory, source);
        int runs = Parse(json, file).ByKey.Count;
        AtomicFile.WriteAllText(file, json);
        return runs;
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{_byKey.Count} recorded run(s): {Source}");
}
