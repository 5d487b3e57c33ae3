using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Training;

using Lrml.Experiments;

using Lrml.Models;

namespace Lrml.Reproduction;

/// <summary>A model's settings for one dataset, and how they were chosen.</summary>
public sealed record Preset(string Model, string Dataset, IReadOnlyList<KeyValuePair<string, string>> Settings,
    IReadOnlyList<KeyValuePair<string, string>> Train, string ChosenBy);

/// <summary>
/// Per-dataset model settings used by the reproductions, read from the embedded presets.json: a default
/// entry per model, overridden per dataset by configurations chosen on the validation split (sweeps).
/// </summary>
public static class Presets
{
    private static readonly Lazy<JsonObject> Root = new(() =>
    {
        using var s = typeof(Presets).Assembly.GetManifestResourceStream("Lrml.Reproduction.presets.json")
                      ?? throw new InvalidOperationException("presets.json is not embedded in the Lrml assembly.");
        using var reader = new StreamReader(s);
        return Parse(reader.ReadToEnd(), "presets.json");
    });

    /// <summary>
    /// Parses a presets file and checks every entry when it is loaded: the model must be registered, its settings must bind
    /// to the model's config record and validate (<see cref="ModelEntry.CheckSettings"/>), its train settings to
    /// <see cref="TrainConfig"/>. A bad entry fails with the file, the entry (e.g. datasets.ml-1m.lrml.settings) and the key.
    /// </summary>
    internal static JsonObject Parse(string json, string file)
    {
        JsonObject root;
        try { root = JsonNode.Parse(json) as JsonObject ?? throw new DataFormatException(file, 0, "not a JSON object."); }
        catch (JsonException e) { throw new DataFormatException(file, (e.LineNumber ?? -1) + 1, $"not valid JSON ({e.Message})", e); }
        var entries = (root["default"] as JsonObject ?? throw new DataFormatException(file, 0, "no \"default\" object."))
            .Select(kv => ("default." + kv.Key, kv.Key, kv.Value)).ToList();
        if (root["datasets"] is JsonObject datasets)
            foreach (var (dataset, models) in datasets)
                entries.AddRange((models as JsonObject ?? throw new DataFormatException(file, 0, $"datasets.{dataset} is not an object."))
                    .Select(kv => ($"datasets.{dataset}.{kv.Key}", kv.Key, kv.Value)));
        foreach (var (where, model, entry) in entries)
        {
            ModelEntry? registered = null;
            Check(where, () => registered = ModelRegistry.Get(model));
            Check(where + ".settings", () => registered!.CheckSettings(Pairs(entry?["settings"])));
            Check(where + ".train", () => ConfigBinder.Apply(new TrainConfig(), Pairs(entry?["train"])).Validate());
        }
        return root;

        void Check(string part, Action check)
        {
            try { check(); }
            catch (ArgumentException e) { throw new DataFormatException(file, 0, $"{part}: {e.Message}", e); }
        }
    }

    /// <summary>Models with a preset (in main-table order).</summary>
    public static IReadOnlyList<string> Models => Root.Value["default"]!.AsObject().Select(kv => kv.Key).ToArray();

    /// <summary>The preset of a model on a dataset (dataset entry when present, else the default).</summary>
    public static Preset Get(string model, string dataset)
    {
        var entry = Root.Value["datasets"]?[dataset]?[model] ?? Root.Value["default"]?[model]
                    ?? throw new ArgumentException($"No preset for model '{model}'.");
        return new Preset(model, dataset, Pairs(entry["settings"]), Pairs(entry["train"]), (string?)entry["chosen_by"] ?? "");
    }

    /// <summary>A run spec for a preset under a profile and seed.</summary>
    public static RunSpec Spec(Preset preset, Profile profile, long seed, int threads, string? protocol = null)
    {
        var train = ConfigBinder.Apply(new TrainConfig { Seed = seed, Threads = threads, Patience = profile.Patience }, preset.Train);
        if (profile.MaxEpochs is int cap && train.Epochs > cap) train = train with { Epochs = cap };
        return new RunSpec { Dataset = preset.Dataset, Protocol = protocol, Model = preset.Model, Settings = preset.Settings, Train = train };
    }

    private static IReadOnlyList<KeyValuePair<string, string>> Pairs(JsonNode? node) =>
        node is JsonObject o
            ? o.Select(kv => new KeyValuePair<string, string>(kv.Key, kv.Value is JsonValue v && v.TryGetValue(out string? s)
                ? s : kv.Value!.ToJsonString())).ToList()
            : new List<KeyValuePair<string, string>>();
}
