using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Util;

using Lrml.Experiments;

using Lrml.Models;

namespace Lrml.Reproduction.Backends;

/// <summary>
/// One run's full specification on disk, for a task on another machine: the serialised <see cref="RunSpec"/>
/// (<see cref="RunStore.SpecJson"/>) with the identity flags it leaves out (oracle epoch, retraining on train + validation),
/// its key, the run directory, and the behaviour settings that are not part of a run's
/// identity. <c>lrml train --spec FILE</c> reads it and calls <see cref="RunStore.RunOrLoad"/>, exactly as a local sweep or
/// reproduction does, so a finished run is reused, an interrupted one resumes from its checkpoint, and a directory holding
/// another configuration is refused.
/// </summary>
/// <param name="Spec">The run.</param>
/// <param name="RunDirectory">Where it is written.</param>
/// <param name="Overwrite">Whether the task may replace a finished run of another configuration in that directory (as the
/// submitting experiment would).</param>
/// <param name="KeepCheckpoints">Whether the finished run keeps its resumable checkpoint (<see cref="ExperimentContext.KeepCheckpoints"/>).</param>
internal sealed record RunSpecFile(RunSpec Spec, string RunDirectory, bool Overwrite, bool KeepCheckpoints = false)
{
    /// <summary>The format tag of the file.</summary>
    public const string Format = "lrml-run-spec/1";

    /// <summary>The file's JSON. A dataset of one's own travels with it (<see cref="FileDataset.ToJson"/>: the task's process
    /// registers it), so the task reads the same file with the same format.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["format"] = Format,
            ["key"] = RunStore.SpecKey(Spec),
            ["run_dir"] = RunDirectory,
            ["overwrite"] = Overwrite,
            ["keep_checkpoints"] = KeepCheckpoints,
            ["checkpoint_every_steps"] = Spec.CheckpointEverySteps,
            ["oracle_epoch"] = Spec.OracleEpoch,                            // part of the run's identity, not of its spec JSON
            ["retrain_on_validation"] = Spec.RetrainOnValidation,
            ["spec"] = RunStore.SpecJson(Spec),
        };
        if (Datasets.Get(Spec.Dataset).Own is { } own) o["own_dataset"] = own.ToJson();
        return o;
    }

    /// <summary>Writes the file atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson().ToJsonString(ConfigBinder.Json) + "\n");

    /// <summary>Reads a spec file; a bad file, or a spec whose key differs from the recorded one (written by a kit that
    /// identifies runs differently), is an <see cref="InvalidDataException"/> naming the file and the reason.</summary>
    public static RunSpecFile Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such run spec file.", path);
        JsonObject o;
        try { o = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new InvalidDataException($"{path}: empty run spec file."); }
        catch (System.Text.Json.JsonException ex)
        {
            throw new InvalidDataException($"{path}:{(ex.LineNumber ?? 0) + 1}: not a run spec file ({ex.Message.Split('\n')[0]}).", ex);
        }
        catch (InvalidOperationException ex) { throw new InvalidDataException($"{path}: not a run spec file (not a JSON object).", ex); }
        if ((string?)o["format"] != Format)
            throw new InvalidDataException($"{path}: not a run spec file of this kit (format '{(string?)o["format"]}', expected '{Format}').");
        RunSpec spec;
        try
        {
            spec = RunStore.SpecFromJson(o["spec"] as JsonObject ?? throw new InvalidDataException("the field 'spec' is missing"));
        }
        catch (InvalidDataException ex) { throw new InvalidDataException($"{path}: {ex.Message}", ex); }
        spec = spec with
        {
            CheckpointEverySteps = (int?)o["checkpoint_every_steps"] ?? 0,
            OracleEpoch = (bool?)o["oracle_epoch"] ?? false, RetrainOnValidation = (bool?)o["retrain_on_validation"] ?? false,
        };
        string key = (string?)o["key"] ?? throw new InvalidDataException($"{path}: the field 'key' is missing.");
        string actual = RunStore.SpecKey(spec);
        if (actual != key)
            throw new InvalidDataException($"{path}: the spec's key is {actual}, the file records {key}: it was written by a kit that " +
                                           "identifies runs differently. Submit it again from this version.");
        string dir = (string?)o["run_dir"] ?? throw new InvalidDataException($"{path}: the field 'run_dir' is missing.");
        if (o["own_dataset"] is JsonObject own) Datasets.Register(FileDataset.FromJson(own, path));
        return new RunSpecFile(spec, dir, (bool?)o["overwrite"] ?? false, (bool?)o["keep_checkpoints"] ?? false);
    }
}
