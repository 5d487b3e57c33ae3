using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Lrml.Util;

namespace Lrml.Experiments;

/// <summary>
/// Finished runs on disk, so long reproductions and sweeps resume: a run directory whose spec.json records the
/// requested run's <see cref="RunIdentity"/> (same data checksums, same settings) and that holds a result.json is reused
/// instead of trained again.
/// </summary>
public static class RunStore
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
                throw new IOException($"'{dir}' holds a finished run of a different configuration ({why}). Remove it or pass --overwrite.");
            context.Observer.Message($"Training {dir} again: {why}");
        }
        var ctx = new ExperimentContext
        {
            Data = context.Data, ResultsRoot = context.ResultsRoot, Observer = context.Observer,
            Overwrite = true, // an unfinished or stale directory of this run is replaced
            SaveCheckpoints = context.SaveCheckpoints,
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
