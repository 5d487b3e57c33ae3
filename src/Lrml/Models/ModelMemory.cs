using System.Globalization;
using Lrml.Models;
using Lrml.Util;

namespace Lrml.Models;

/// <summary>
/// What a model of a given shape needs in memory, estimated before anything is allocated: the parameters, the
/// optimiser's state, the dense gradients of the torch engine, the copies of the whole state the trainer keeps (the
/// live one, the best epoch's, and the last good one it replays from), and the per-batch buffers and activations.
/// All arithmetic is checked 64-bit, so an absurd size (dim=100000000, slots=100000000, a batch of 2³¹) becomes a
/// one-line error naming the settings and the estimate instead of an overflow, an out-of-memory crash or a machine
/// that swaps for minutes.
/// </summary>
/// <param name="Parameters">Trainable scalars (floats).</param>
/// <param name="OptimizerCopies">Optimiser state per parameter (Adam and LazyAdam 2, Adagrad 1, SGD 0).</param>
/// <param name="Gradients">Dense gradient copies of the parameters (1 for the torch engine, 0 for the fused one).</param>
/// <param name="PerExampleBytes">Buffers and activations per training positive of a batch (with its negatives).</param>
/// <param name="Shape">The settings that set the size, for the message (e.g. "dim=100, slots=20").</param>
internal sealed record ModelMemory(long Parameters, int OptimizerCopies, int Gradients, long PerExampleBytes, string Shape)
{
    /// <summary>Copies of parameters + optimiser state the trainer holds at once: live, best epoch, last good (replay).</summary>
    public const int StateCopies = 3;

    /// <summary>Total bytes for batches of <paramref name="batch"/> positives with <paramref name="negatives"/> negatives each.</summary>
    /// <exception cref="OverflowException">The total does not fit in 64 bits.</exception>
    public long Bytes(long batch, int negatives) => checked(
        4 * Parameters * ((1 + OptimizerCopies) * StateCopies + Gradients)
        + batch * (PerExampleBytes + 4L * (2 + negatives)));

    /// <summary>Optimiser state per parameter.</summary>
    public static int OptimizerState(OptimizerKind kind) => kind switch
    {
        OptimizerKind.Adam or OptimizerKind.LazyAdam => 2,
        OptimizerKind.Adagrad => 1,
        _ => 0,
    };

    /// <summary>Memory this process may still use: the smaller of the machine's (or container's) memory as .NET sees it
    /// and what the kernel reports available (MemAvailable in /proc/meminfo), plus what this process already holds.</summary>
    public static (long Bytes, string Source) Available()
    {
        long total = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        string source = "total memory";
        if (MemAvailableKiB() is long kib)
        {
            long avail = kib * 1024 + ProcessMemory.ResidentBytes();
            if (avail < total) { total = avail; source = "available memory (MemAvailable in /proc/meminfo plus this process)"; }
        }
        return (total, source);
    }

    private static long? MemAvailableKiB()
    {
        try
        {
            if (!File.Exists("/proc/meminfo")) return null;
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan("MemAvailable:".Length).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>Throws a one-line <see cref="ArgumentException"/> when a model of this size cannot fit in
    /// <paramref name="availableBytes"/> (default: <see cref="Available"/>).</summary>
    public void Check(string model, int users, int items, long batch, int negatives, long? availableBytes = null)
    {
        long need;
        try { need = Bytes(batch, negatives); }
        catch (OverflowException) { need = long.MaxValue; }
        var (have, source) = availableBytes is long a ? (a, "available memory") : Available();
        if (need <= have) return;
        string needText = need == long.MaxValue ? "more than 9 EB (the size overflows 64 bits)" : "about " + Size(need);
        throw new ArgumentException(
            $"{model} with {Shape} on {users:N0} users × {items:N0} items and batches of {batch:N0} × (1 + {negatives}) needs {needText} " +
            $"({Parameters:N0} parameters{(OptimizerCopies > 0 ? $" + {OptimizerCopies}× optimiser state" : "")}, {StateCopies} copies kept by the trainer, " +
            $"batch buffers), but this machine has {Size(have)} of {source}: lower these settings.");
    }

    /// <summary>A byte count as "1.2 GB" (powers of 1024).</summary>
    public static string Size(long bytes)
    {
        string[] units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} bytes" : v.ToString(v < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " " + units[u];
    }

    // ---- per model -------------------------------------------------------------------------------------------

    /// <summary>LRML: P (users × d), Q (items × d), keys K (d × N) and memory M (N × d); the fused engine pads rows to a
    /// multiple of 16 floats and keeps no dense gradients. Per example: the (1 + k) translated differences, distances and
    /// the attention over N slots.</summary>
    public static ModelMemory Lrml(LrmlConfig c, int users, int items, int negatives, bool fused)
    {
        long d = fused ? (c.Dim + 15L) / 16 * 16 : c.Dim, n = c.Slots;
        long parameters = Saturated(() => checked((users + (long)items) * d + 2 * n * d));
        long perExample = Saturated(() => checked(4 * (1 + (long)negatives) * (4 * d + 2 * n) + 4 * 4 * d));
        return new(parameters, OptimizerState(c.Optimizer), fused ? 0 : 1, fused ? perExample : 2 * perExample,
            $"dim={c.Dim}, slots={c.Slots}");
    }

    /// <summary>Embedding models (CML, BPR-MF, TransCF): users × d + items × d (+ extra per-item scalars).</summary>
    public static ModelMemory Embeddings(int dim, OptimizerKind optimizer, int users, int items, int negatives, long extra = 0, int extraCopies = 0) =>
        new(Saturated(() => checked((users + (long)items) * dim + extra)), OptimizerState(optimizer), 1 + extraCopies,
            Saturated(() => checked(2 * 4 * (2 + (long)negatives) * dim * 4)), $"dim={dim}");

    /// <summary>NCF models: GMF factors <paramref name="gmfDim"/> and an MLP tower <paramref name="layers"/> (each embedding
    /// layers[0]/2), dense layers and the prediction layer.</summary>
    public static ModelMemory Ncf(int gmfDim, int[]? layers, OptimizerKind optimizer, int users, int items, int negatives)
    {
        long width = gmfDim + (layers is null ? 0 : layers[0] / 2);
        long dense = 0, activations = gmfDim;
        if (layers is not null)
            for (int j = 0; j + 1 < layers.Length; j++) { dense = Saturated(() => checked(dense + (long)layers[j] * layers[j + 1] + layers[j + 1])); activations += layers[j]; }
        long predictive = gmfDim + (layers is null ? 0 : layers[^1]);
        long parameters = Saturated(() => checked((users + (long)items) * width + dense + predictive + 1));
        string shape = layers is null ? $"dim={gmfDim}" : gmfDim > 0 ? $"dim={gmfDim}, layers=[{string.Join(",", layers)}]" : $"layers=[{string.Join(",", layers)}]";
        return new(parameters, OptimizerState(optimizer), 1, Saturated(() => checked(2 * 4 * (1 + (long)negatives) * (2 * width + activations) * 2)), shape);
    }

    /// <summary>A checked computation (the lambda's own checked context), or <see cref="long.MaxValue"/> when it overflows (then <see cref="Bytes"/> overflows
    /// too and <see cref="Check"/> reports a size beyond 64 bits).</summary>
    private static long Saturated(Func<long> compute)
    {
        try { return compute(); }
        catch (OverflowException) { return long.MaxValue; }
    }
}
