using System.Numerics;
using System.Runtime.CompilerServices;

namespace Lrml.Util;

/// <summary>
/// xoshiro256** pseudo-random generator (Blackman &amp; Vigna), seeded through SplitMix64.
/// Every random decision of the kit (splits, negative sampling, shuffling, initialisation) goes through
/// this type, so a seed fixes a run on every machine and .NET version, and the full state can be saved
/// and restored for an exact resume.
/// </summary>
internal sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Creates a generator from a 64-bit seed.</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>Creates a generator from a seed and a stream name, so that independent consumers of one
    /// run seed (sampler, shuffler, initialiser, …) draw from unrelated streams.</summary>
    public Rng(long seed, string stream) : this(Mix((ulong)seed, stream)) { }

    private Rng(ulong s0, ulong s1, ulong s2, ulong s3) { _s0 = s0; _s1 = s1; _s2 = s2; _s3 = s3; }

    /// <summary>The four state words, for checkpoints.</summary>
    public ulong[] GetState() => new[] { _s0, _s1, _s2, _s3 };

    /// <summary>Restores a state returned by <see cref="GetState"/>.</summary>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4) throw new ArgumentException("Rng state has 4 words.", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
        if ((_s0 | _s1 | _s2 | _s3) == 0) throw new ArgumentException("Rng state must not be all zero.", nameof(state));
    }

    /// <summary>Takes over <paramref name="other"/>'s state (no allocation).</summary>
    public void CopyStateFrom(Rng other)
    {
        ArgumentNullException.ThrowIfNull(other);
        (_s0, _s1, _s2, _s3) = (other._s0, other._s1, other._s2, other._s3);
    }

    /// <summary>An independent copy with the same state.</summary>
    public Rng Clone() => new(_s0, _s1, _s2, _s3);

    /// <summary>Next 64 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's multiply-shift method).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be positive.");
        ulong m = (ulong)(uint)NextUInt64() * (uint)n;
        uint low = (uint)m;
        if (low < (uint)n)
        {
            uint threshold = (uint)(-n) % (uint)n;
            while (low < threshold)
            {
                m = (ulong)(uint)NextUInt64() * (uint)n;
                low = (uint)m;
            }
        }
        return (int)(m >> 32);
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform float in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Standard normal deviate (Box–Muller, both values consumed one at a time; no cached state,
    /// so <see cref="GetState"/> fully describes the generator).</summary>
    public double NextGaussian()
    {
        double u1;
        do { u1 = NextDouble(); } while (u1 <= double.Epsilon);
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>In-place Fisher–Yates shuffle.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Deterministic 64-bit mix of a seed and a stream name (FNV-1a over the name, then SplitMix).</summary>
    public static ulong Mix(ulong seed, string stream)
    {
        ulong h = 0xcbf29ce484222325UL;
        foreach (char c in stream) { h ^= c; h *= 0x100000001b3UL; }
        ulong x = seed ^ h;
        return SplitMix(ref x);
    }
}
