using System.Text.Json.Nodes;

namespace Lrml.Training;

/// <summary>The "diagnostics" object of an epoch record in epochs.jsonl and in trainer checkpoints: one number per
/// measurement, null for NaN (not measured), so that JSON stays standard.</summary>
internal static class EpochDiagnosticsJson
{
    /// <summary>Adds <c>"diagnostics"</c> to <paramref name="o"/> when the record has any.</summary>
    public static void Write(EpochRecord r, JsonObject o)
    {
        if (r.Diagnostics is null) return;
        var d = new JsonObject();
        foreach (var kv in r.Diagnostics) d[kv.Key] = double.IsFinite(kv.Value) ? kv.Value : null;
        o["diagnostics"] = d;
    }

    /// <summary>The diagnostics of a record read back (null values → NaN), or null when it has none.</summary>
    public static IReadOnlyDictionary<string, double>? Read(JsonObject o) =>
        o["diagnostics"] is JsonObject d ? d.ToDictionary(kv => kv.Key, kv => kv.Value is null ? double.NaN : (double)kv.Value) : null;
}
