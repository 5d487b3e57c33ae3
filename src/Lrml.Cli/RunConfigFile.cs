using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Experiments;
using Lrml.Models;
using Lrml.Training;

namespace Lrml.Cli;

/// <summary>
/// Reads a config file for <c>lrml train --config FILE</c>: the keys of a run's config.json (<see cref="RunConfig"/>, which
/// writes them), any subset of them in a file written by hand. Nothing here touches data: a bad file is refused before any
/// data is read.
/// </summary>
internal static class RunConfigFile
{
    /// <summary>What a config file holds; null: the file does not say (the command's default or option applies).</summary>
    internal sealed record File
    {
        public string? Dataset { get; init; }
        public string? Protocol { get; init; }
        public string? Model { get; init; }
        public string? Engine { get; init; }
        public string? Device { get; init; }
        /// <summary>The model settings (given ones, then those the model section changes); null: none in the file.</summary>
        public List<KeyValuePair<string, string>>? Settings { get; init; }
        /// <summary>The training options the file sets, as key=value text for <see cref="ConfigBinder.Apply{T}"/>.</summary>
        public List<KeyValuePair<string, string>> Train { get; init; } = [];
        public long? SplitSeed { get; init; }
        public int? SampledNegatives { get; init; }
        public bool? SampledValidation { get; init; }
        public int[]? Ks { get; init; }
        public bool? FullRanking { get; init; }
        public int? CheckpointEvery { get; init; }
        public bool? KeepCheckpoints { get; init; }
        public bool? OracleEpoch { get; init; }
        public bool? RetrainOnValidation { get; init; }
    }

    /// <summary>Reads and checks a config file without touching any data: an unreadable file, an unknown key or a bad value
    /// is a <see cref="SettingException"/> naming the file and the key. <paramref name="model"/> is the model the command
    /// line asks for (null: the file's, else <paramref name="defaultModel"/>); the file's model settings are for its own model only.</summary>
    public static File Load(string path, string? model, string defaultModel)
    {
        path = Path.GetFullPath(path);
        if (!System.IO.File.Exists(path)) throw new SettingException($"--config {path}: no such file.");
        JsonObject o;
        try { o = JsonNode.Parse(System.IO.File.ReadAllText(path)) as JsonObject ?? throw new SettingException($"{path}: not a JSON object."); }
        catch (JsonException e) { throw new SettingException($"{path}:{(e.LineNumber ?? 0) + 1}: not valid JSON ({e.Message.Split('\n')[0]}).", e); }
        return Parse(o, path, model, defaultModel);
    }

    internal static File Parse(JsonObject o, string source, string? model, string defaultModel)
    {
        SettingException Bad(string key, string why) => new($"{source}: {key}: {why}");
        foreach (var (k, _) in o)
            if (!RunConfig.Keys.Contains(k)) throw Bad(k, $"unknown key (known: {string.Join(", ", RunConfig.Keys)}).");
        T? Value<T>(string key, string expects)
        {
            var node = o[key];
            if (node is null) return default;
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException) { throw Bad(key, $"expects {expects}, got {node.ToJsonString()}."); }
        }
        int? Count(string key, int min)
        {
            var v = Value<int?>(key, "a whole number");
            return v < min ? throw Bad(key, $"must be ≥ {min} (got {v}).") : v;
        }

        if (o["dataset_file"] is JsonNode df)
        {
            try { Lrml.Data.Datasets.Register(Lrml.Data.FileDataset.FromJson(df as JsonObject ?? throw Bad("dataset_file", "expects an object (a dataset file's keys)."), source)); }
            catch (Lrml.Data.DataFormatException e) { throw Bad("dataset_file", e.Message); }
        }
        string? fileModel = Value<string>("model_name", "a model name");
        if (fileModel is not null)
        {
            try { fileModel = ModelRegistry.Get(fileModel).Name; }
            catch (ArgumentException e) { throw Bad("model_name", e.Message); }
        }
        if (model is not null && fileModel is not null && ModelRegistry.Get(model).Name != fileModel && (o["settings"] ?? o["model"]) is not null)
            throw new SettingException($"--model {model} differs from the model of {source} ({fileModel}), whose settings are {fileModel}'s: " +
                                       "drop --model, or write a config for that model.");
        string modelName = model ?? fileModel ?? defaultModel;
        string? engine = Value<string>("engine", "an engine name or null")?.ToLowerInvariant();
        var entry = ModelRegistry.Get(modelName);
        if (engine is not null && !entry.Engines.Contains(engine, StringComparer.OrdinalIgnoreCase))
            throw Bad("engine", $"{entry.Name} has no engine '{engine}' (engines: {string.Join(", ", entry.Engines)}).");
        string device = Value<string>("device", "cpu, cuda or cuda:N") ?? "cpu";

        var settings = o["settings"] is null ? null : Pairs(o["settings"], "settings", Bad);
        if (o["model"] is not null)
            settings = [.. settings ?? [], .. ModelEdits(o["model"] as JsonObject ?? throw Bad("model", "expects an object of model settings."),
                settings ?? [], entry, engine, device, Bad)];
        if (settings is not null)
        {
            try { entry.CheckSettings(settings); }
            catch (ArgumentException e) { throw new SettingException($"{source}: settings/model: {e.Message}", e); }
        }

        var train = o["train"] is null ? [] : Pairs(o["train"], "train", Bad);
        foreach (var kv in train)
        {
            try { ConfigBinder.Apply(new TrainConfig(), [kv]).Validate(); }
            catch (ArgumentException e) { throw Bad("train." + kv.Key, e.Message); }
        }

        int[]? ks = null;
        if (o["ks"] is JsonNode ksNode)
        {
            ks = (ksNode as JsonArray ?? throw Bad("ks", "expects a list of cut-offs, e.g. [5, 10, 20].")).Select(n =>
                n is JsonValue v && v.TryGetValue(out int k) && k >= 1 ? k : throw Bad("ks", $"{n?.ToJsonString()} is not a cut-off (a whole number ≥ 1).")).Distinct().Order().ToArray();
            if (ks.Length == 0) throw Bad("ks", "needs at least one cut-off.");
        }
        return new File
        {
            Dataset = Value<string>("dataset", "a dataset name"), Protocol = Value<string>("protocol", "a protocol name or null"),
            Model = fileModel, Engine = engine, Device = o["device"] is null ? null : device, Settings = settings, Train = train,
            SplitSeed = Value<long?>("split_seed", "a whole number"), SampledNegatives = Count("sampled_negatives", 1),
            SampledValidation = Value<bool?>("sampled_validation", "true or false"), Ks = ks,
            FullRanking = Value<bool?>("full_ranking", "true or false"), CheckpointEvery = Count("checkpoint_every", 0),
            KeepCheckpoints = Value<bool?>("keep_checkpoints", "true or false"),
            OracleEpoch = Value<bool?>("oracle_epoch", "true or false"), RetrainOnValidation = Value<bool?>("retrain_on_validation", "true or false"),
        };
    }

    /// <summary>An object's entries as key=value text (strings as they are, numbers and booleans as JSON writes them).</summary>
    private static List<KeyValuePair<string, string>> Pairs(JsonNode? node, string key, Func<string, string, SettingException> bad)
    {
        if (node is not JsonObject obj) throw bad(key, "expects an object of key: value.");
        return obj.Select(kv => new KeyValuePair<string, string>(kv.Key, Text(kv.Value) ?? throw bad($"{key}.{kv.Key}", "expects a value, got null."))).ToList();
    }

    private static string? Text(JsonNode? v) => v switch
    {
        null => null,
        JsonValue s when s.TryGetValue(out string? text) => text,
        JsonArray a => string.Join(",", a.Select(Text)),
        _ => v.ToJsonString(),
    };

    /// <summary>The settings of a config's resolved model section that differ from what <paramref name="settings"/> resolve
    /// to: what a user changed there. Its engine and device must agree with the file's (they are chosen at the top).</summary>
    private static IEnumerable<KeyValuePair<string, string>> ModelEdits(JsonObject model, List<KeyValuePair<string, string>> settings,
        ModelEntry entry, string? engine, string device, Func<string, string, SettingException> bad)
    {
        JsonObject resolved;
        try { resolved = entry.Resolve?.Invoke(settings) ?? entry.DefaultConfig(); }
        catch (ArgumentException e) { throw bad("settings", e.Message); }
        var edits = new List<KeyValuePair<string, string>>();
        foreach (var (k, v) in model)
        {
            string? used = k == "engine" ? ModelRegistry.EngineUsed(entry.Name, engine, device, settings) : k == "device" ? device : null;
            if (used is not null)
            {
                if (!string.Equals(Text(v), used, StringComparison.OrdinalIgnoreCase))
                    throw bad("model." + k, $"is {v?.ToJsonString()} but the run's {k} is '{used}': choose the {k} with the top-level \"{k}\" key.");
                continue;
            }
            string? known = resolved.Select(p => p.Key).FirstOrDefault(p => ConfigBinder.Normalise(p) == ConfigBinder.Normalise(k));
            if (known is null) throw bad("model." + k, $"{entry.Name} has no such setting (settings: {string.Join(", ", resolved.Select(p => p.Key))}).");
            if (!JsonNode.DeepEquals(JsonNode.Parse(resolved[known]?.ToJsonString() ?? "null"), JsonNode.Parse(v?.ToJsonString() ?? "null")))
                edits.Add(new(known, Text(v) ?? ""));
        }
        return edits;
    }
}
