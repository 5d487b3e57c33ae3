using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Models;
using Lrml.Training;

namespace Lrml.Tests.Training;

/// <summary>
/// Every field of a <see cref="TrainerCheckpoint"/> survives the path that puts it in a run directory: stamping with the
/// run's identity (<see cref="TrainerCheckpoint.WithRunIdentity"/>), then <see cref="TrainerCheckpoint.ToBytes"/> and
/// <see cref="TrainerCheckpoint.FromBytes"/>. The fields are found by reflection, so a field added later is covered
/// without editing these tests (a field of a type <see cref="ValueFor"/> does not know fails them, naming the field).
/// </summary>
public class TrainerCheckpointTests
{
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static PropertyInfo[] Fields() => typeof(TrainerCheckpoint).GetProperties(BindingFlags.Public | BindingFlags.Instance);

    /// <summary>A value for the <paramref name="i"/>-th field that differs from its default and from every other field's.</summary>
    private static object ValueFor(PropertyInfo p, int i)
    {
        var t = p.PropertyType;
        if (t == typeof(int)) return 100 + i;
        if (t == typeof(double)) return 0.25 + i;
        if (t == typeof(string)) return "text" + i;
        if (t == typeof(ulong[])) return new ulong[] { (ulong)i + 1, ulong.MaxValue - (ulong)i };
        if (t == typeof(byte[])) return new byte[] { (byte)i, 7, 255 };
        if (t == typeof(JsonObject)) return new JsonObject { ["field"] = i, ["files"] = new JsonObject { ["u.data"] = "abc" } };
        if (t == typeof(IReadOnlyList<EpochRecord>))
            return new List<EpochRecord>
            {
                new(i, 1.5, 0.5, 2.25, 3.5, new Dictionary<string, double> { ["nDCG@10"] = 0.125 }, true, 4)
                    { Diagnostics = new Dictionary<string, double> { ["memory/entropy"] = 0.75 } },
            };
        throw new InvalidOperationException($"TrainerCheckpoint.{p.Name} has type {t}, which {nameof(ValueFor)} does not know: add a value for it.");
    }

    /// <summary>A checkpoint with every writable field set to its own non-default value.</summary>
    private static TrainerCheckpoint Full()
    {
        var ck = (TrainerCheckpoint)Activator.CreateInstance(typeof(TrainerCheckpoint))!;
        var fields = Fields();
        for (int i = 0; i < fields.Length; i++)
            if (fields[i].CanWrite) fields[i].SetValue(ck, ValueFor(fields[i], i));
        return ck;
    }

    private static string Text(PropertyInfo p, TrainerCheckpoint ck) => JsonSerializer.Serialize(p.GetValue(ck), p.PropertyType, Json);

    [Fact]
    public void StampingWithTheRunIdentityKeepsEveryOtherField()
    {
        var ck = Full();
        var identity = new JsonObject { ["dataset"] = "ml-100k", ["train"] = new JsonObject { ["seed"] = 3 } };
        var stamped = ck.WithRunIdentity("run-key", identity);

        Assert.Equal("run-key", stamped.RunKey);
        Assert.Same(identity, stamped.Identity);
        Assert.NotEqual("run-key", ck.RunKey); // a copy: the trainer's checkpoint is not changed
        var others = Fields().Where(p => p.Name is not (nameof(TrainerCheckpoint.RunKey) or nameof(TrainerCheckpoint.Identity))).ToArray();
        Assert.True(others.Length >= 17, $"only {others.Length} fields found");
        foreach (var p in others) Assert.True(Text(p, ck) == Text(p, stamped), $"{p.Name} was lost by WithRunIdentity: {Text(p, ck)} became {Text(p, stamped)}");
    }

    [Fact]
    public void EveryFieldOfAStampedCheckpointRoundTripsThroughItsFile()
    {
        var stamped = Full().WithRunIdentity("run-key", new JsonObject { ["dataset"] = "ml-100k" });
        var back = TrainerCheckpoint.FromBytes(stamped.ToBytes(), "memory");
        foreach (var p in Fields()) Assert.True(Text(p, stamped) == Text(p, back), $"{p.Name} did not round-trip: {Text(p, stamped)} became {Text(p, back)}");
    }

    [Fact]
    public void TheCheckpointInARunDirectoryCarriesTheRunIdentityAndTheTrainersFields()
    {
        string root = Directory.CreateTempSubdirectory("lrml-ckpt").FullName;
        try
        {
            var context = new ExperimentContext { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root, KeepCheckpoints = true };
            var spec = new RunSpec
            {
                Dataset = "synthetic", Model = "bpr", Settings = ConfigBinder.ParsePairs(["dim=8"]),
                Train = new TrainConfig { Epochs = 2, BatchSize = 512, Seed = 5, Threads = 1 },
            };
            string dir = Path.Combine(root, "run");
            var outcome = Experiment.Run(spec, context, dir);
            string path = Path.Combine(dir, Experiment.CheckpointFile);
            var ck = TrainerCheckpoint.FromBytes(File.ReadAllBytes(path), path);

            var identity = RunIdentity.Of(spec, context);
            Assert.Equal(identity.Key, ck.RunKey);
            Assert.True(JsonNode.DeepEquals(identity.Parts, ck.Identity), "the checkpoint's identity is the run's");
            Assert.Equal((3, 0), (ck.Epoch, ck.Step)); // written at the end of the last epoch: the next one starts there
            Assert.Equal(outcome.Training!.Epochs.Select(e => e.Loss), ck.Epochs.Select(e => e.Loss));
            Assert.Equal(2, ck.Epochs.Count);
            Assert.True(double.IsFinite(ck.InitialLoss) && ck.InitialLoss > 0, $"InitialLoss {ck.InitialLoss}");
            Assert.True(double.IsFinite(ck.InitialMaxAbs) && ck.InitialMaxAbs > 0, $"InitialMaxAbs {ck.InitialMaxAbs}");
            Assert.NotNull(ck.BestState);
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
