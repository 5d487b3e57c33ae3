using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Lrml.Training;
using Lrml.Util;

using Lrml.Models;

namespace Lrml.Experiments;

/// <summary>
/// Finished runs on disk, so long reproductions and sweeps resume: a run directory whose spec.json records the
/// requested run's <see cref="RunIdentity"/> (same data checksums, same settings) and that holds a result.json is reused
/// instead of trained again.
/// </summary>
internal static class RunStore
{
    /// <summary>The identity key recorded in a run directory's spec.json, or null (no or unreadable spec.json).</summary>
    public static string? StoredKey(string dir) => (string?)ReadSpec(dir)?["key"];

    private static JsonObject? ReadSpec(string dir)
    {
        string path = Path.Combine(dir, "spec.json");
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (System.Text.Json.JsonException) { return null; }
    }

    /// <summary>
    /// A hash of the spec's settings as <see cref="SpecJson"/> writes them — not of its data. It names a spec in a cluster
    /// submission's bookkeeping and checks that a spec file round-trips; whether a finished run may be reused is decided by
    /// <see cref="RunIdentity"/>, which also covers the data's checksums and <see cref="RunIdentity.NumericsVersion"/>.
    /// </summary>
    public static string SpecKey(RunSpec spec) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(SpecJson(spec).ToJsonString())))[..16];

    /// <summary>The spec as JSON (settings normalised and sorted).</summary>
    public static JsonObject SpecJson(RunSpec spec)
    {
        var settings = new JsonObject();
        foreach (var kv in spec.Settings.OrderBy(k => ConfigBinder.Normalise(k.Key), StringComparer.Ordinal))
            settings[ConfigBinder.Normalise(kv.Key)] = kv.Value.Trim();
        var json = new JsonObject
        {
            ["dataset"] = spec.Dataset, ["protocol"] = spec.Protocol, ["model"] = spec.Model.ToLowerInvariant(),
            ["engine"] = spec.Engine, ["settings"] = settings, ["train"] = ConfigBinder.ToJson(spec.Train),
            ["split_seed"] = spec.SplitSeed, ["sampled_negatives"] = spec.SampledNegatives,
            ["full_ranking"] = spec.FullRanking, ["sampled_validation"] = spec.SampledValidation,
            ["ks"] = new JsonArray(spec.Ks.Select(k => (JsonNode)k).ToArray()),
        };
        if (!RunIdentity.IsCpu(spec.Device)) json["device"] = spec.Device;   // absent for CPU: earlier spec keys stay valid
        return json;
    }

    /// <summary>The run spec that <see cref="SpecJson"/> wrote: the inverse of SpecJson, so that
    /// <c>SpecKey(SpecFromJson(SpecJson(s))) == SpecKey(s)</c> (setting keys come back normalised, which binds to the same
    /// configuration). Fields SpecJson adds for identity only (e.g. data checksums) are ignored here; the key comparison of
    /// whoever reads a spec file catches a spec that does not round-trip. <see cref="RunSpec.CheckpointEverySteps"/> is not
    /// part of a spec's JSON and comes back as 0. Throws <see cref="InvalidDataException"/> naming the missing or bad field.</summary>
    public static RunSpec SpecFromJson(JsonObject o)
    {
        ArgumentNullException.ThrowIfNull(o);
        T Field<T>(string name, T fallback, bool required = false)
        {
            var node = o[name];
            if (node is null)
                return required ? throw new InvalidDataException($"run spec: the field '{name}' is missing.") : fallback;
            try { return node.GetValue<T>(); }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"run spec: the field '{name}' is not a {typeof(T).Name} ({node.ToJsonString()}).", ex);
            }
        }
        var settings = new List<KeyValuePair<string, string>>();
        if (o["settings"] is JsonObject s)
            foreach (var (k, v) in s)
                settings.Add(new(k, v is JsonValue jv && jv.TryGetValue(out string? text) ? text : v?.ToJsonString() ?? ""));
        TrainConfig train;
        try
        {
            train = o["train"] is JsonObject t
                ? System.Text.Json.JsonSerializer.Deserialize<TrainConfig>(t, ConfigBinder.Json) ?? new TrainConfig()
                : throw new InvalidDataException("run spec: the field 'train' is missing.");
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new InvalidDataException($"run spec: the field 'train' is not a training configuration ({ex.Message.Split('\n')[0]}).", ex);
        }
        int[] ks = o["ks"] is JsonArray a ? a.Select(k => k!.GetValue<int>()).ToArray() : [10];
        return new RunSpec
        {
            Dataset = Field<string>("dataset", "", required: true),
            Protocol = Field<string?>("protocol", null),
            Model = Field<string>("model", "", required: true),
            Engine = Field<string?>("engine", null),
            Settings = settings,
            Train = train,
            SplitSeed = Field("split_seed", new RunSpec { Dataset = "", Model = "" }.SplitSeed),
            SampledNegatives = Field<int?>("sampled_negatives", null),
            FullRanking = Field("full_ranking", true),
            SampledValidation = Field("sampled_validation", true),
            Ks = ks,
            Device = Field("device", "cpu"),
        };
    }

    /// <summary>Runs <paramref name="spec"/> into <paramref name="dir"/>, or loads it when that directory already holds a
    /// finished run of the same <see cref="RunIdentity"/>. A directory holding another computation (other settings, or data
    /// whose checksums differ) is an error naming what differs.</summary>
    public static StoredRun RunOrLoad(RunSpec spec, ExperimentContext context, string dir)
    {
        var identity = RunIdentity.Of(spec, context);
        string key = identity.Key;
        using var held = FolderLock.Acquire(dir, "The run directory", "Wait for it to finish."); // check, run and spec.json as one step
        string specPath = Path.Combine(dir, "spec.json");
        string resultPath = Path.Combine(dir, "result.json");
        if (File.Exists(resultPath) && File.Exists(specPath))
        {
            var stored = ReadSpec(dir);
            if ((string?)stored?["key"] == key)
            {
                context.Observer.Message($"Reusing finished run {dir}");
                return Load(dir);
            }
            string why = RunIdentity.Describe(RunIdentity.Differences(stored?["identity"], identity.Parts));
            if (!context.Overwrite)
                throw new IOException($"'{dir}' holds a finished run of a different configuration ({why}). Remove that folder, or choose another results folder, to train it again.");
            context.Observer.Message($"Training {dir} again: {why}");
        }
        var ctx = new ExperimentContext
        {
            Data = context.Data, ResultsRoot = context.ResultsRoot, Observer = context.Observer,
            Overwrite = true, // an unfinished or stale directory of this run is replaced
            SaveCheckpoints = context.SaveCheckpoints, KeepCheckpoints = context.KeepCheckpoints,
        };
        bool resume = Experiment.CanResume(dir, identity);             // an interrupted run continues from its checkpoint
        var outcome = Experiment.Run(spec, ctx, dir, resume);
        var o = new JsonObject { ["key"] = key, ["identity"] = identity.Parts.DeepClone() };
        AtomicFile.WriteAllText(specPath, o.ToJsonString(ConfigBinder.Json) + "\n");
        return new StoredRun(outcome.Result, PerUserFrom(outcome), dir);
    }

    /// <summary>Loads a finished run directory (result.json and per_user_test.csv).</summary>
    public static StoredRun Load(string dir)
    {
        var result = RunResult.Load(Path.Combine(dir, "result.json"));
        return new StoredRun(result, ReadPerUser(Path.Combine(dir, "per_user_test.csv")), dir);
    }

    private static Dictionary<string, Dictionary<int, double>> PerUserFrom(RunOutcome o)
    {
        var d = new Dictionary<string, Dictionary<int, double>>();
        void Add(Evaluation.EvaluationResult? r, string prefix)
        {
            if (r is null) return;
            foreach (var (name, values) in r.PerUser)
            {
                var m = d[prefix + name] = new Dictionary<int, double>();
                for (int k = 0; k < r.Users.Length; k++) m[r.Users[k]] = values[k];
            }
        }
        Add(o.Sampled, "");
        Add(o.Full, o.Sampled is null ? "" : "full/");
        return d;
    }

    /// <summary>Reads per_user_test.csv into metric → (user index → value).</summary>
    public static Dictionary<string, Dictionary<int, double>> ReadPerUser(string path)
    {
        var d = new Dictionary<string, Dictionary<int, double>>();
        if (!File.Exists(path)) return d;
        using var reader = new StreamReader(path);
        var header = reader.ReadLine()?.Split(',') ?? throw new InvalidDataException($"{path}: empty file.");
        if (header.Length < 2 || header[0] != "user_index") throw new InvalidDataException($"{path}:1: not a per-user metrics file.");
        for (int c = 2; c < header.Length; c++) d[header[c]] = new();
        string? line;
        int lineNo = 1;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            var f = SplitCsv(line);
            if (f.Count != header.Length) throw new InvalidDataException($"{path}:{lineNo}: expected {header.Length} fields, got {f.Count}.");
            int u = int.Parse(f[0], CultureInfo.InvariantCulture);
            for (int c = 2; c < header.Length; c++)
                if (f[c].Length > 0) d[header[c]][u] = double.Parse(f[c], CultureInfo.InvariantCulture);
        }
        return d;
    }

    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else sb.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { fields.Add(sb.ToString()); sb.Clear(); }
            else sb.Append(ch);
        }
        fields.Add(sb.ToString());
        return fields;
    }
}

/// <summary>A finished run loaded from (or just written to) disk, with its per-user test values.</summary>
public sealed record StoredRun(RunResult Result, Dictionary<string, Dictionary<int, double>> PerUser, string Directory);
