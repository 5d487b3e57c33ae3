using Lrml.Models;

namespace Lrml.Fast;

/// <summary>
/// Engine options of <see cref="LrmlFused"/> that are not part of the model definition
/// (<see cref="LrmlConfig"/>): they change speed, never the mathematics, except where stated.
/// </summary>
public sealed record FusedOptions
{
    /// <summary>Worker threads used inside one training step and one scoring call (the calling thread
    /// counts as one). 0 = <see cref="Environment.ProcessorCount"/>. Results are bit-identical for every
    /// thread count on one machine (work is split into fixed-size chunks reduced in a fixed order).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Examples per work chunk of a training step (each chunk has its own memory-gradient buffer;
    /// chunks are reduced in index order). Part of the floating-point summation order: changing it
    /// changes results in the last bits, the thread count does not.</summary>
    public int ChunkSize { get; init; } = 64;

    /// <summary>Full-ranking scoring (<see cref="LrmlFused.ScoreAllItems"/>) normally uses the expanded
    /// distance ‖p−q‖² + 2(p−q)·r + ‖r‖² with r never formed (fast); true forms r explicitly for every
    /// (user, item) as the training path does (about 1.7× slower, no cancellation). L1 always forms r.</summary>
    public bool ExactRelationScoring { get; init; }

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (Threads < 0) throw new ArgumentException($"Threads must be ≥ 0 (got {Threads}).");
        if (ChunkSize < 1) throw new ArgumentException($"ChunkSize must be ≥ 1 (got {ChunkSize}).");
    }

    /// <summary>The effective thread count (resolves 0).</summary>
    public int EffectiveThreads => Threads == 0 ? Environment.ProcessorCount : Threads;
}
