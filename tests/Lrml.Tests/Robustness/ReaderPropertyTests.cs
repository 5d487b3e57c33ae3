using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Lrml.Data;

namespace Lrml.Tests.Robustness;

/// <summary>One edit of a file's bytes; positions are taken modulo the current length.</summary>
public sealed record Mutation(MutationKind Kind, int Position, int Length, byte Value)
{
    /// <summary>Bytes that matter to the readers: digits, every separator, line ends, signs, quotes, brackets, NUL,
    /// a UTF-8 byte-order mark byte and a Latin-1 byte.</summary>
    public static readonly byte[] Interesting = Encoding.ASCII.GetBytes("0123456789:,\t|;\n\r -+.eENa\"()").Concat(new byte[] { 0, 0xEF, 0xBB, 0xBF, 0xE9, 0xFF }).ToArray();

    /// <summary>Applies the edit.</summary>
    public byte[] Apply(byte[] s)
    {
        var list = new List<byte>(s);
        int n = list.Count;
        int pos = n == 0 ? 0 : (int)((uint)Position % (uint)(n + 1));
        int len = Math.Min(1 + Length % 16, Math.Max(0, n - pos));
        switch (Kind)
        {
            case MutationKind.Delete: list.RemoveRange(pos, len); break;
            case MutationKind.Duplicate: list.InsertRange(pos, list.GetRange(pos, len)); break;
            case MutationKind.Insert: list.Insert(pos, Value); break;
            case MutationKind.Replace: if (pos < n) list[pos] = Value; else list.Add(Value); break;
            case MutationKind.SwapSeparator:
            {
                // turn the next separator-like byte at or after pos into another separator
                byte[] seps = [(byte)':', (byte)',', (byte)'\t', (byte)'|', (byte)';', (byte)' ', (byte)'\n'];
                for (int k = 0; k < n; k++)
                {
                    int at = (pos + k) % n;
                    if (Array.IndexOf(seps, list[at]) >= 0) { list[at] = seps[Value % seps.Length]; break; }
                }
                break;
            }
            case MutationKind.Truncate: list.RemoveRange(pos, n - pos); break;
            case MutationKind.DuplicateLine:
            {
                int start = pos == 0 ? 0 : list.LastIndexOf((byte)'\n', Math.Min(pos, n) - 1) + 1;
                int end = list.IndexOf((byte)'\n', start);
                if (end < 0) end = n - 1; else end = Math.Min(end, n - 1);
                if (n > 0 && end >= start) list.InsertRange(end + 1, list.GetRange(start, end - start + 1));
                break;
            }
        }
        return list.ToArray();
    }
}

/// <summary>Kinds of <see cref="Mutation"/>.</summary>
public enum MutationKind { Delete, Duplicate, Insert, Replace, SwapSeparator, Truncate, DuplicateLine }

/// <summary>Generators for the reader properties.</summary>
public static class ReaderArbitraries
{
    private static Gen<byte> InterestingByte => Gen.Frequency(
        (3, Gen.Elements(Mutation.Interesting)),
        (1, Gen.Choose(0, 255).Select(b => (byte)b)));

    /// <summary>A single edit.</summary>
    public static Arbitrary<Mutation> Mutations() =>
        (from kind in Gen.Elements(Enum.GetValues<MutationKind>())
         from pos in Gen.Choose(0, int.MaxValue)
         from len in Gen.Choose(0, 15)
         from value in InterestingByte
         select new Mutation(kind, pos, len, value)).ToArbitrary();

    /// <summary>Garbage: random bytes or a soup of the bytes the readers care about.</summary>
    public static Arbitrary<Garbage> GarbageBytes() =>
        Gen.OneOf(
                Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b)),
                Gen.ArrayOf(InterestingByte),
                Gen.Sized(size => Gen.ArrayOf(Gen.Elements(Mutation.Interesting), size * 8)))
            .Select(b => new Garbage(b)).ToArbitrary();
}

/// <summary>Random bytes fed to a reader as its file.</summary>
public sealed record Garbage(byte[] Bytes)
{
    public override string ToString() => $"{Bytes.Length} bytes: {Convert.ToHexString(Bytes.AsSpan(0, Math.Min(64, Bytes.Length)))}";
}

/// <summary>
/// Properties over random input: whatever bytes a reader is given — pure garbage, or a valid file with random
/// deletions, duplications, insertions, separator swaps and truncations — it either succeeds with consistent data
/// (arrays of equal length, indices inside the id maps, finite non-negative ratings) or raises a DataFormatException
/// naming the file with a line ≥ 0. Never an IndexOutOfRange, NullReference, Overflow or other exception from inside,
/// and never an output file.
/// </summary>
public class ReaderPropertyTests
{
    private static void Check(ReaderTarget t, byte[] content)
    {
        var (result, error, path) = CorpusRunner.Run(t, content);
        if (error is null) ReadOutcome.CheckInvariants(result!);
        else CorpusRunner.AssertCleanError(error, path, content.AsSpan().Count((byte)'\n') + content.AsSpan().Count((byte)'\r') + 1, orCompanion: t.HasIndexSpace);
    }

    [Property(MaxTest = 40, Arbitrary = [typeof(ReaderArbitraries)])]
    public void GarbageNeverCrashesAnyReader(Garbage garbage)
    {
        foreach (var t in ReaderTargets.All) Check(t, garbage.Bytes);
    }

    [Property(MaxTest = 400, Arbitrary = [typeof(ReaderArbitraries)])]
    public void MutatedValidFilesGiveConsistentDataOrACleanError(NonNegativeInt reader, Mutation[] mutations)
    {
        var t = ReaderTargets.All[reader.Get % ReaderTargets.All.Count];
        var bytes = t.ValidBytes();
        foreach (var m in mutations) bytes = m.Apply(bytes);
        Check(t, bytes);
    }

    [Fact]
    public void MutationsDoWhatTheySay()
    {
        var s = Encoding.ASCII.GetBytes("1::2\n3::4\n");
        Assert.Equal("1::2\n3::4\n3::4\n", Encoding.ASCII.GetString(new Mutation(MutationKind.DuplicateLine, 6, 0, 0).Apply(s)));
        Assert.Equal("1::2\n3", Encoding.ASCII.GetString(new Mutation(MutationKind.Truncate, 6, 0, 0).Apply(s)));
        Assert.Equal("1::\n3::4\n", Encoding.ASCII.GetString(new Mutation(MutationKind.Delete, 3, 0, 0).Apply(s)));
        Assert.Equal("1,:2\n3::4\n", Encoding.ASCII.GetString(new Mutation(MutationKind.SwapSeparator, 1, 0, 1).Apply(s)));
        Assert.Equal("1::2\n33::4\n", Encoding.ASCII.GetString(new Mutation(MutationKind.Duplicate, 5, 0, 0).Apply(s)));
    }
}
