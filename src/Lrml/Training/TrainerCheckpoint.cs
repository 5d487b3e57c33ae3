using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lrml.Training;

/// <summary>
/// Everything needed to continue a training run exactly where it stopped, even in the middle of an epoch:
/// the model (parameters and optimiser state), the shuffling stream's state at the start of the current
/// epoch (the epoch's order is re-derived from it), the negative-sampling stream's current state, the
/// position inside the epoch, the epoch's loss so far, early-stopping state, the best state, and the epoch
/// log so far. Serialised with a magic, a format version and a SHA-256 of the payload.
/// </summary>
public sealed class TrainerCheckpoint
{
    private const string Magic = "LRML-TRAINER-CKPT";
    private const int Version = 1;

    /// <summary>The identity key of the run (a checkpoint only resumes the same computation).</summary>
    public string RunKey { get => _runKey; init => _runKey = value; }
    private string _runKey = "";
    /// <summary>The parts of the run's identity (data checksums, every setting), so a refused resume names what differs;
    /// null in checkpoints of older kits.</summary>
    public JsonObject? Identity { get => _identity; init => _identity = value; }
    private JsonObject? _identity;

    /// <summary>This checkpoint stamped with a run's identity (<see cref="RunKey"/> and <see cref="Identity"/>). It is a
    /// memberwise copy, so every other field, present or added later, comes along unchanged (no list of fields to keep).</summary>
    internal TrainerCheckpoint WithRunIdentity(string runKey, JsonObject? identity)
    {
        var stamped = (TrainerCheckpoint)MemberwiseClone();
        stamped._runKey = runKey;
        stamped._identity = identity;
        return stamped;
    }
    /// <summary>1-based epoch in progress (or the next one when <see cref="Step"/> is 0).</summary>
    public required int Epoch { get; init; }
    /// <summary>Batches of <see cref="Epoch"/> already applied.</summary>
    public required int Step { get; init; }
    public required ulong[] ShuffleStateAtEpochStart { get; init; }
    public required ulong[] NegativeState { get; init; }
    public required double EpochLossSoFar { get; init; }
    public required double EpochSecondsSoFar { get; init; }
    public required double BestValue { get; init; }
    public required int BestEpoch { get; init; }
    public required int BadEvaluations { get; init; }
    public required double TrainSeconds { get; init; }
    public required double EvalSeconds { get; init; }
    public required IReadOnlyList<EpochRecord> Epochs { get; init; }
    public required byte[] ModelState { get; init; }
    public byte[]? BestState { get; init; }
    /// <summary>Loss per training positive of the run's first step (the divergence reference), NaN when not known yet
    /// (or in a checkpoint written before the kit recorded it).</summary>
    public double InitialLoss { get; init; } = double.NaN;
    /// <summary>Largest |parameter| at initialisation (the explosion reference), NaN when not recorded.</summary>
    public double InitialMaxAbs { get; init; } = double.NaN;
    /// <summary>First step of <see cref="Epoch"/> whose loss exceeded the divergence bound (0: none so far).</summary>
    public int LossBreachStep { get; init; }

    public byte[] ToBytes()
    {
        var meta = new JsonObject
        {
            ["run_key"] = RunKey, ["identity"] = Identity?.DeepClone(), ["epoch"] = Epoch, ["step"] = Step,
            ["shuffle"] = new JsonArray(ShuffleStateAtEpochStart.Select(x => (JsonNode)x.ToString()).ToArray()),
            ["negatives"] = new JsonArray(NegativeState.Select(x => (JsonNode)x.ToString()).ToArray()),
            ["epoch_loss"] = EpochLossSoFar, ["epoch_seconds"] = EpochSecondsSoFar,
            ["best_value"] = double.IsNegativeInfinity(BestValue) ? null : BestValue,
            ["best_epoch"] = BestEpoch, ["bad"] = BadEvaluations,
            ["train_seconds"] = TrainSeconds, ["eval_seconds"] = EvalSeconds,
            ["epochs"] = new JsonArray(Epochs.Select(EpochJson).ToArray()),
            ["initial_loss"] = double.IsFinite(InitialLoss) ? InitialLoss : null,
            ["initial_max_abs"] = double.IsFinite(InitialMaxAbs) ? InitialMaxAbs : null,
            ["loss_breach_step"] = LossBreachStep,
        };
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(meta.ToJsonString());
            w.Write(ModelState.Length); w.Write(ModelState);
            w.Write(BestState?.Length ?? -1);
            if (BestState is not null) w.Write(BestState);
        }
        var body = payload.ToArray();
        using var all = new MemoryStream();
        using (var w = new BinaryWriter(all, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic); w.Write(Version); w.Write(body.LongLength); w.Write(SHA256.HashData(body)); w.Write(body);
        }
        return all.ToArray();
    }

    /// <summary>Reads a checkpoint; a truncated or altered file fails with a clear message naming it.</summary>
    public static TrainerCheckpoint FromBytes(byte[] bytes, string source)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
            if (r.ReadString() != Magic) throw new InvalidDataException($"{source}: not a trainer checkpoint.");
            int version = r.ReadInt32();
            if (version != Version) throw new InvalidDataException($"{source}: checkpoint format {version}, this kit reads {Version}.");
            long length = r.ReadInt64();
            var hash = r.ReadBytes(32);
            var body = r.ReadBytes(checked((int)length));
            if (body.Length != length) throw new InvalidDataException($"{source}: truncated checkpoint ({body.Length} of {length} bytes).");
            if (!SHA256.HashData(body).AsSpan().SequenceEqual(hash)) throw new InvalidDataException($"{source}: checkpoint checksum mismatch (corrupted file).");
            using var b = new BinaryReader(new MemoryStream(body), Encoding.UTF8);
            var meta = JsonNode.Parse(b.ReadString())!.AsObject();
            var model = b.ReadBytes(b.ReadInt32());
            int bestLen = b.ReadInt32();
            var best = bestLen >= 0 ? b.ReadBytes(bestLen) : null;
            return new TrainerCheckpoint
            {
                RunKey = (string?)meta["run_key"] ?? "",
                Identity = meta["identity"] is JsonObject identity ? identity.DeepClone().AsObject() : null,
                Epoch = (int)meta["epoch"]!, Step = (int)meta["step"]!,
                ShuffleStateAtEpochStart = meta["shuffle"]!.AsArray().Select(x => ulong.Parse((string)x!)).ToArray(),
                NegativeState = meta["negatives"]!.AsArray().Select(x => ulong.Parse((string)x!)).ToArray(),
                EpochLossSoFar = (double)meta["epoch_loss"]!, EpochSecondsSoFar = (double)meta["epoch_seconds"]!,
                BestValue = meta["best_value"] is null ? double.NegativeInfinity : (double)meta["best_value"]!,
                BestEpoch = (int)meta["best_epoch"]!, BadEvaluations = (int)meta["bad"]!,
                TrainSeconds = (double)meta["train_seconds"]!, EvalSeconds = (double)meta["eval_seconds"]!,
                Epochs = meta["epochs"]!.AsArray().Select(e => FromEpochJson(e!.AsObject())).ToList(),
                ModelState = model, BestState = best,
                InitialLoss = meta["initial_loss"] is JsonNode il ? (double)il : double.NaN,
                InitialMaxAbs = meta["initial_max_abs"] is JsonNode im ? (double)im : double.NaN,
                LossBreachStep = meta["loss_breach_step"] is JsonNode lb ? (int)lb : 0,
            };
        }
        catch (Exception ex) when (ex is EndOfStreamException or JsonException or FormatException or OverflowException or NullReferenceException)
        {
            throw new InvalidDataException($"{source}: unreadable checkpoint ({ex.Message}).", ex);
        }
    }

    private static JsonNode EpochJson(EpochRecord r)
    {
        var o = new JsonObject
        {
            ["epoch"] = r.Epoch, ["loss"] = r.Loss, ["mean_loss"] = r.MeanLoss, ["seconds"] = r.TrainSeconds,
            ["eval_seconds"] = r.EvalSeconds, ["best"] = r.IsBest, ["steps"] = r.Steps,
        };
        if (r.Validation is not null)
        {
            var v = new JsonObject();
            foreach (var kv in r.Validation) v[kv.Key] = kv.Value;
            o["validation"] = v;
        }
        EpochDiagnosticsJson.Write(r, o);
        return o;
    }

    private static EpochRecord FromEpochJson(JsonObject o) => new(
        (int)o["epoch"]!, (double)o["loss"]!, (double)o["mean_loss"]!, (double)o["seconds"]!, (double)o["eval_seconds"]!,
        o["validation"] is JsonObject v ? v.ToDictionary(kv => kv.Key, kv => (double)kv.Value!) : null,
        (bool)o["best"]!, (int)o["steps"]!) { Diagnostics = EpochDiagnosticsJson.Read(o) };
}
