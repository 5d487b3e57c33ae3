using System.Text;

namespace Lrml.Tests.Robustness;

/// <summary>The kinds of damage the corpus applies to every reader's file.</summary>
public enum Fault
{
    /// <summary>One data line uses another separator.</summary>
    WrongSeparator,
    /// <summary>One data line lacks its last required field.</summary>
    MissingField,
    /// <summary>An id field reads "12a".</summary>
    NonNumericId,
    /// <summary>A rating/weight is "-1".</summary>
    NegativeRating,
    /// <summary>A rating/weight is "NaN".</summary>
    NaNRating,
    /// <summary>A data line appears twice in a row.</summary>
    DuplicateLine,
    /// <summary>The file starts with a UTF-8 byte-order mark.</summary>
    ByteOrderMark,
    /// <summary>Every line ends in CR LF.</summary>
    Crlf,
    /// <summary>The file stops right after the first separator of its last line (no final newline).</summary>
    TruncatedLastLine,
    /// <summary>The file has zero bytes.</summary>
    EmptyFile,
    /// <summary>An id field is 1.2 million digits long.</summary>
    GiganticLine,
    /// <summary>An id outside the index space fixed by the other files (NCF files).</summary>
    UnknownId,
    /// <summary>A NUL byte inside a data line (binary data).</summary>
    NulByte,
    /// <summary>A Windows-1252 byte (0x96, an en dash) right after an id field.</summary>
    NonAsciiByte,
    /// <summary>Every line ends in a lone CR (classic Mac OS).</summary>
    CrOnlyLineEnds,
    /// <summary>The last line is complete but has no final newline (it cannot be told from a partly written one).</summary>
    UnterminatedLastLine,
}

/// <summary>What the kit must do with a damaged file.</summary>
internal abstract record Expectation;

/// <summary>A <see cref="Lrml.Data.DataFormatException"/> naming the damaged file, this 1-based line (0: whole file) and a
/// reason containing one of <paramref name="AnyOf"/>.</summary>
internal sealed record ErrorAt(long Line, params string[] AnyOf) : Expectation
{
    public override string ToString() => Line == 0 ? $"error (file, \"{AnyOf[0]}\")" : $"error (line {Line}, \"{AnyOf[0]}\")";
}

/// <summary>Read successfully with exactly the result of the undamaged file (encoding variants).</summary>
internal sealed record SameAsValid : Expectation
{
    public override string ToString() => "accepted, same result";
}

/// <summary>Read successfully; the repeated interaction is kept as one more row (the splitters merge and count it).</summary>
internal sealed record OneMoreRow : Expectation
{
    public override string ToString() => "accepted, duplicate row kept";
}

/// <summary>One corpus entry: a reader, a fault, the damaged bytes and the expected outcome.</summary>
internal sealed record MalformedCase(ReaderTarget Target, Fault Fault, byte[] Content, Expectation Expect);

/// <summary>
/// Builds the malformed-input corpus: every reader of <see cref="ReaderTargets.All"/> × every <see cref="Fault"/>,
/// generated from the tiny valid files (nothing from real datasets). A pair that cannot exist (no rating column to
/// damage, no index space to leave) is listed with the reason instead of a case.
/// </summary>
internal static class MalformedCorpus
{
    /// <summary>Length of the gigantic id (above the 1 MiB line limit).</summary>
    public const int GiganticLength = 1_200_000;

    /// <summary>The case for (target, fault), or null with the reason it does not apply.</summary>
    public static MalformedCase? Build(ReaderTarget t, Fault fault, out string? notApplicable)
    {
        notApplicable = null;
        int at = t.TargetLine;
        long line = at + 1;
        string[] lines = t.Lines;
        string[] WithTarget(string replacement)
        {
            var copy = (string[])lines.Clone();
            copy[at] = replacement;
            return copy;
        }
        string SetField(int field, string value)
        {
            var f = t.Fields(lines[at]);
            f[field] = value;
            return t.Join(f);
        }
        static byte[] Bytes(IEnumerable<string> ls, string eol = "\n") => Encoding.UTF8.GetBytes(string.Join(eol, ls) + eol);

        switch (fault)
        {
            case Fault.WrongSeparator:
                return new(t, fault, Bytes(WithTarget(lines[at].Replace(t.Separator, t.OtherSeparator))), new ErrorAt(line, "wrong separator"));
            case Fault.MissingField:
                return new(t, fault, Bytes(WithTarget(t.Join(t.Fields(lines[at]).Take(t.RequiredFields - 1)))),
                    new ErrorAt(line, "wrong field count", "wrong separator"));
            case Fault.NonNumericId:
                return new(t, fault, Bytes(WithTarget(SetField(t.IdField, "12a"))), new ErrorAt(line, "not numeric", "not an integer"));
            case Fault.NegativeRating:
            case Fault.NaNRating:
                if (t.RatingField is not int rf) { notApplicable = "no rating column"; return null; }
                return fault == Fault.NegativeRating
                    ? new(t, fault, Bytes(WithTarget(SetField(rf, "-1"))), new ErrorAt(line, "negative"))
                    : new(t, fault, Bytes(WithTarget(SetField(rf, "NaN"))), new ErrorAt(line, "finite", "not a number"));
            case Fault.DuplicateLine:
            {
                var dup = lines.Take(at + 1).Append(lines[at]).Concat(lines.Skip(at + 1));
                Expectation e = !t.DuplicatesAllowed ? new ErrorAt(line + 1, "twice")
                    : t.HasIndexSpace ? new SameAsValid() : new OneMoreRow();
                return new(t, fault, Bytes(dup), e);
            }
            case Fault.ByteOrderMark:
                return new(t, fault, [0xEF, 0xBB, 0xBF, .. t.ValidBytes()], new SameAsValid());
            case Fault.Crlf:
                return new(t, fault, Bytes(lines, "\r\n"), new SameAsValid());
            case Fault.TruncatedLastLine:
            {
                string last = lines[^1];
                string cut = last[..(last.IndexOf(t.Separator, StringComparison.Ordinal) + t.Separator.Length)];
                var text = string.Join("\n", lines.Take(lines.Length - 1)) + "\n" + cut;
                return new(t, fault, Encoding.UTF8.GetBytes(text), new ErrorAt(lines.Length, "does not end with a newline", "wrong field count", "is empty"));
            }
            case Fault.EmptyFile:
                return new(t, fault, [], new ErrorAt(0, "empty"));
            case Fault.GiganticLine:
                return new(t, fault, Bytes(WithTarget(SetField(t.IdField, new string('9', GiganticLength)))),
                    new ErrorAt(line, "longer than", "not an integer", "not numeric"));
            case Fault.UnknownId:
                if (!t.HasIndexSpace) { notApplicable = "ids define the index space (catalogs may list unrated items)"; return null; }
                return new(t, fault, Bytes(WithTarget(SetField(t.IdField, "99"))), new ErrorAt(line, "unknown"));
            case Fault.NulByte:
            {
                var f = t.Fields(lines[at]);
                string id = f[t.IdField];
                return new(t, fault, Bytes(WithTarget(SetField(t.IdField, id[..1] + "\0" + id[1..]))), new ErrorAt(line, "NUL"));
            }
            case Fault.NonAsciiByte:
            {
                // the target line with byte 0x96 after its id: Latin-1 maps U+0096 to that single byte (the rest is ASCII)
                var f = t.Fields(lines[at]);
                return new(t, fault, Encoding.Latin1.GetBytes(string.Join("\n", WithTarget(SetField(t.IdField, f[t.IdField] + "\u0096"))) + "\n"),
                    new ErrorAt(line, "contains the byte 0x96"));
            }
            case Fault.CrOnlyLineEnds:
                return new(t, fault, Bytes(lines, "\r"), t.CrEndsLines ? new SameAsValid() : new ErrorAt(1, "CR-only line ends"));
            case Fault.UnterminatedLastLine:
                return new(t, fault, Encoding.UTF8.GetBytes(string.Join("\n", lines)), new ErrorAt(lines.Length, "does not end with a newline"));
            default:
                throw new ArgumentOutOfRangeException(nameof(fault));
        }
    }

    /// <summary>Every applicable case.</summary>
    public static IEnumerable<MalformedCase> Cases()
    {
        foreach (var t in ReaderTargets.All)
            foreach (var f in Enum.GetValues<Fault>())
                if (Build(t, f, out _) is { } c) yield return c;
    }
}
