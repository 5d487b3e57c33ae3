using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Models;
using Lrml.Training;

namespace Lrml.Experiments;

/// <summary>
/// A run's config.json: the effective, complete configuration of a run, written into its directory; <c>lrml train --config
/// FILE</c> reads it back (Lrml.Cli's <c>RunConfigFile</c>), so that a run repeats from its own config.json with the same
/// <see cref="RunIdentity"/>. Keys: <c>dataset</c>, <c>protocol</c> (the effective one), <c>model_name</c>, <c>engine</c>
/// (null: the model's default; the one used is <c>model.engine</c>), <c>device</c>, <c>settings</c> (the model settings as
/// given — what the identity hashes), <c>model</c> (every model setting resolved, with the engine and device used),
/// <c>train</c> (<see cref="TrainConfig"/>), <c>split_seed</c>, <c>sampled_negatives</c> (effective),
/// <c>sampled_validation</c>, <c>ks</c>, <c>full_ranking</c>, <c>checkpoint_every</c> and <c>keep_checkpoints</c>.
/// <para>A file written by hand may hold any of them; a setting under <c>model</c> whose value differs from what
/// <c>settings</c> resolve to is applied as a setting too (so editing the resolved section takes effect).</para>
/// </summary>
internal static class RunConfig
{
    /// <summary>Every key of a config.json (what a config file may hold).</summary>
    internal static readonly string[] Keys =
    [
        "dataset", "protocol", "model_name", "engine", "device", "settings", "model", "train", "split_seed", "sampled_negatives",
        "sampled_validation", "ks", "full_ranking", "checkpoint_every", "keep_checkpoints", "oracle_epoch", "retrain_on_validation", "dataset_file",
    ];

    /// <summary>The config.json of a run: <paramref name="protocol"/> and <paramref name="sampledNegatives"/> are the
    /// effective ones, <paramref name="modelConfig"/> the model's resolved configuration (<see cref="BuiltModel.Config"/>).</summary>
    public static JsonObject Json(RunSpec spec, string protocol, JsonObject modelConfig, int sampledNegatives, bool keepCheckpoints)
    {
        var settings = new JsonObject();
        foreach (var (k, v) in spec.Settings) settings[k] = v;
        return new JsonObject
        {
            ["dataset"] = spec.Dataset, ["protocol"] = protocol, ["model_name"] = ModelRegistry.Get(spec.Model).Name,
            ["engine"] = spec.Engine, ["device"] = spec.Device, ["settings"] = settings,
            ["model"] = modelConfig,
            ["train"] = ConfigBinder.ToJson(spec.Train),
            ["split_seed"] = spec.SplitSeed,
            ["sampled_negatives"] = sampledNegatives,
            ["sampled_validation"] = spec.SampledValidation,
            ["ks"] = new JsonArray(spec.Ks.Select(k => (JsonNode)k).ToArray()),
            ["full_ranking"] = spec.FullRanking,
            ["checkpoint_every"] = spec.CheckpointEverySteps,
            ["keep_checkpoints"] = keepCheckpoints,
            ["oracle_epoch"] = spec.OracleEpoch,
            ["retrain_on_validation"] = spec.RetrainOnValidation,
            // a dataset of one's own: its file and format, so a run repeated from this file reads the same data the same way
            ["dataset_file"] = Lrml.Data.Datasets.Get(spec.Dataset).Own?.ToJson(),
        };
    }
}
