using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
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
        return JsonNode.Parse(s)!.AsObject();
    });

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
