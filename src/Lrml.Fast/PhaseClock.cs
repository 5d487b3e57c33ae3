using System.Diagnostics;

namespace Lrml.Fast;

/// <summary>
/// Wall-clock time of a fused engine's training steps by phase, for <c>lrml bench</c>'s "where a step's time goes": every
/// parallel phase of the engine's <see cref="WorkerPool"/> under the phase's name, and the calling thread's work between
/// them under the name the engine gives it when it ends (its own negative draws, indexing the batch, the dense tower's
/// update) or <see cref="MainThread"/>. A step's laps add up to its wall time. Time between steps (the caller's
/// sampling) and pool work outside a step (scoring, a reader's catch-up) are not counted. Timing changes no result;
/// without a clock attached (the default) an engine pays one null check per phase.
/// </summary>
internal sealed class PhaseClock
{
    /// <summary>The calling thread's work that no engine lap names (batch checks, loss sums, bookkeeping).</summary>
    public const string MainThread = "main thread";

    private readonly Func<long> _now;
    private readonly double _ticksPerSecond;
    private readonly List<string> _names = [];
    private readonly List<long> _ticks = [];
    private long _last;
    private bool _inStep;

    public PhaseClock() : this(Stopwatch.GetTimestamp, Stopwatch.Frequency) { }

    /// <summary>A clock reading <paramref name="now"/> (tests drive it by hand).</summary>
    internal PhaseClock(Func<long> now, long ticksPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ticksPerSecond, 1);
        (_now, _ticksPerSecond) = (now, ticksPerSecond);
    }

    /// <summary>Steps timed so far.</summary>
    public long Steps { get; private set; }

    /// <summary>A step starts: the next lap counts from now.</summary>
    public void BeginStep()
    {
        _inStep = true;
        _last = _now();
    }

    /// <summary>The time since the previous lap (or the step's start) was spent in <paramref name="phase"/>. Outside a step
    /// it does nothing.</summary>
    public void Lap(string phase)
    {
        if (!_inStep) return;
        long t = _now();
        int i = IndexOf(phase);
        _ticks[i] += t - _last;
        _last = t;
    }

    /// <summary>The step ends: what is left since the last lap was the calling thread's.</summary>
    public void EndStep()
    {
        if (!_inStep) return;
        Lap(MainThread);
        _inStep = false;
        Steps++;
    }

    /// <summary>Seconds per phase, in the order the phases first appeared.</summary>
    public IReadOnlyList<PhaseTime> Phases => _names.Select((n, i) => new PhaseTime(n, _ticks[i] / _ticksPerSecond)).ToList();

    /// <summary>Seconds of all timed steps.</summary>
    public double TotalSeconds => _ticks.Sum() / _ticksPerSecond;

    private int IndexOf(string phase)
    {
        for (int i = 0; i < _names.Count; i++)
            if (_names[i] == phase) return i;   // string equality tries the reference first
        _names.Add(phase);
        _ticks.Add(0);
        return _names.Count - 1;
    }
}

/// <summary>A fused engine whose training steps can be timed by phase (<see cref="PhaseClock"/>).</summary>
internal interface IPhaseTimed
{
    /// <summary>The clock every following step reports to; null stops timing.</summary>
    PhaseClock? PhaseClock { get; set; }

    /// <summary>Floats of the embedding tables that every training step updates with exact Adam's full arithmetic because the
    /// engine sweeps them (P and Q, padding included); 0 when it does not sweep (a row-sparse optimiser, or exact Adam replaying
    /// unread rows). <c>lrml bench</c> turns it into the step's arithmetic floor (<see cref="Bench.AdamFloor"/>).</summary>
    long SweptAdamFloats { get; }
}

/// <summary>Wall-clock seconds a fused engine's timed training steps spent in one phase (<c>lrml bench</c>'s "where a
/// step's time goes").</summary>
/// <param name="Phase">The phase ("examples", "exact-Adam sweep (every row)", …; "sampling and checks" is the bench's own
/// time between steps).</param>
/// <param name="Seconds">Wall-clock seconds over the timed repeats.</param>
public sealed record PhaseTime(string Phase, double Seconds);
