using System.Globalization;
using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Util;

namespace Lrml.Reproduction;

/// <summary>
/// The epochs recorded runs trained before early stopping ended them, by <see cref="RunIdentity"/> key. Training is
/// deterministic (seeded, and the fused engines bit-identical for any thread count), so a planned run whose identity equals
/// a recorded one — same data checksums, settings, seed and threads — stops at the recorded epoch, up to the last bits of a
/// different SIMD width. The kit ships the record of its own full-profile main table
/// (<c>Tables/stopping-epochs.json</c>, written by <c>lrml reproduce main-table --record-stopping-epochs</c>), so that a
/// fresh machine's estimate expects the epochs early stopping takes instead of every run's maximum. A changed preset or
/// dataset changes the identity and the run falls back to its maximum epochs.
/// </summary>
public sealed class StoppingEpochs
{
    private const string Resource = "Lrml.Reproduction.stopping-epochs.json";
    private readonly IReadOnlyDictionary<string, int> _byKey;

    /// <summary>Recorded epochs by identity key.</summary>
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

    /// <summary>The recorded epochs of a run, or null when no recorded run has its identity key.</summary>
    public int? For(string identityKey) => _byKey.TryGetValue(identityKey, out int e) ? e : null;

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
        for (int i = 0; i < runs.Count; i++)
        {
            string? key = runs[i]?["key"] is JsonValue kv && kv.TryGetValue(out string? k) ? k : null;
            int? epochs = runs[i]?["epochs"] is JsonValue ev && ev.TryGetValue(out int n) ? n : null;
            if (string.IsNullOrEmpty(key) || epochs is null || epochs < 0)
                throw new DataFormatException(file, 0, $"runs[{i}] needs a \"key\" (a run identity) and a non-negative integer \"epochs\".");
            if (!byKey.TryAdd(key, epochs.Value))
                throw new DataFormatException(file, 0, $"runs[{i}]: the key {key} is recorded twice.");
        }
        return new StoppingEpochs(byKey, source);
    }

    /// <summary>The record of every finished run under <paramref name="directory"/> (a main table's output folder: its
    /// <c>runs/&lt;dataset&gt;/&lt;run&gt;/</c> with spec.json and result.json), as JSON, runs in path order; models that do not
    /// train (popularity) are left out. A run folder without a readable key or epochs names itself.</summary>
    public static string Record(string directory, string source)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string runsDir = Path.Combine(directory, "runs");
        if (!Directory.Exists(runsDir)) throw new DirectoryNotFoundException($"No runs to record: {runsDir} does not exist.");
        var runs = new JsonArray();
        var commits = new SortedSet<string>(StringComparer.Ordinal);
        var started = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var result in Directory.EnumerateFiles(runsDir, "result.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string dir = Path.GetDirectoryName(result)!;
            JsonNode? json;
            try { json = JsonNode.Parse(File.ReadAllText(result)); }
            catch (System.Text.Json.JsonException e) { throw new DataFormatException(result, (int)(e.LineNumber ?? 0) + 1, $"not valid JSON ({e.Message})", e); }
            string? model = (string?)json?["model"];
            int? epochs = json?["epochs"] is JsonValue v && v.TryGetValue(out int n) ? n : null;
            if (model is null || epochs is null) throw new DataFormatException(result, 0, "a run result needs \"model\" and an integer \"epochs\".");
            if (Models.ModelRegistry.Get(model).Deterministic) continue;
            if ((string?)json?["commit"] is { Length: > 0 } commit) commits.Add(commit);
            if ((string?)json?["started_utc"] is { Length: >= 10 } day) started.Add(day[..10]);
            string key = RunStore.StoredKey(dir) ?? throw new DataFormatException(Path.Combine(dir, "spec.json"), 0, "no identity \"key\": not a finished run folder.");
            runs.Add(new JsonObject
            {
                ["key"] = key, ["dataset"] = (string?)json?["dataset"], ["model"] = Models.ModelRegistry.Get(model).Name,
                ["seed"] = json?["seed"]?.DeepClone(), ["epochs"] = epochs.Value,
            });
        }
        if (runs.Count == 0) throw new InvalidDataException($"No finished trained runs under {runsDir} to record.");
        if (commits.Count > 0 || started.Count > 0)   // what trained them: the runs' own provenance, not the recording kit's
            source += $" (trained by kit commit {(commits.Count > 0 ? string.Join(", ", commits.Select(c => c.Length > 12 ? c[..12] : c)) : "unknown")}" +
                      (started.Count > 0 ? $", {started.Min}{(started.Count > 1 ? " – " + started.Max : "")}" : "") + ")";
        // one run per line, readable in a diff
        var plain = new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        return "{\n  \"source\": " + JsonValue.Create(source).ToJsonString(plain) + ",\n  \"runs\": [\n    " +
               string.Join(",\n    ", runs.Select(r => r!.ToJsonString(plain))) + "\n  ]\n}\n";
    }

    /// <summary>Writes <see cref="Record"/> to <paramref name="file"/> atomically; returns the number of runs recorded.</summary>
    public static int WriteRecord(string directory, string file, string source)
    {
        string json = Record(directory, source);
        AtomicFile.WriteAllText(file, json);
        return Parse(json, file).ByKey.Count;
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{_byKey.Count} recorded run(s): {Source}");
}
