import EquivariantNet
import Foundation

/// The parameter blocks that `launcher train --freeze` keeps fixed (transfer learning,
/// docs/transfer.md).
///
/// A freeze specification is "encoder" (the embedding and every interaction layer: only the
/// decoder trains) or a comma-separated list of block-name prefixes of `ParameterLayout`, matched
/// at a dot: "layer1" means every block `layer1.*` (not `layer10.*`), "layer1.radial" only the
/// radial MLP of layer 1, "decoder.w1" one matrix.
public struct FrozenBlocks {
    /// The specification's items, as given (e.g. ["encoder"] or ["embedding", "layer0"]).
    public let items: [String]
    /// The frozen blocks, in buffer order.
    public let blocks: [ParameterBlock]
    /// `trainable[i]` is false for every parameter of a frozen block (Adam's mask).
    public let trainable: [Bool]

    public var frozenCount: Int { blocks.reduce(0) { $0 + $1.count } }

    /// The names one may freeze: "encoder", then the first component of every block name.
    public static func validNames(_ layout: ParameterLayout) -> [String] {
        var names = ["encoder"]
        for b in layout.blocks {
            let head = String(b.name.split(separator: ".")[0])
            if !names.contains(head) { names.append(head) }
        }
        return names
    }

    /// The items of a specification "a,b,c" (spaces around each trimmed).
    public static func items(of spec: String) -> [String] {
        spec.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Resolves `items` against `layout`; an unknown item is an error listing the valid names.
    public static func resolve(items: [String], layout: ParameterLayout) throws -> FrozenBlocks {
        guard !items.isEmpty else {
            throw ValidationFailure("--freeze: nothing named; valid names: \(validNames(layout).joined(separator: ", "))")
        }
        var frozen = Set<String>()
        for item in items {
            let matches: [ParameterBlock]
            if item == "encoder" {
                matches = layout.blocks.filter { !$0.name.hasPrefix("decoder.") }
            } else {
                matches = layout.blocks.filter { $0.name == item || $0.name.hasPrefix(item + ".") }
            }
            guard !matches.isEmpty else {
                throw ValidationFailure("--freeze: no parameter block is named '\(item)'; valid names: "
                                        + validNames(layout).joined(separator: ", ")
                                        + " (or a longer prefix such as layer0.radial or decoder.w1)")
            }
            for b in matches { frozen.insert(b.name) }
        }
        let blocks = layout.blocks.filter { frozen.contains($0.name) }
        guard blocks.count < layout.blocks.count else {
            throw ValidationFailure("--freeze \(items.joined(separator: ",")) freezes every parameter: nothing would train")
        }
        var trainable = [Bool](repeating: true, count: layout.count)
        for b in blocks { for i in b.range { trainable[i] = false } }
        return FrozenBlocks(items: items, blocks: blocks, trainable: trainable)
    }

    /// Sets the gradient of every frozen parameter to zero (none is then all-reduced).
    public func zeroFrozen(_ gradient: inout [Float]) {
        for b in blocks { for i in b.range { gradient[i] = 0 } }
    }

    /// The metadata a checkpoint records: the items, and the frozen index ranges [start, end).
    public var metadata: [String: Any] {
        ["freeze": items, "frozen_blocks": blocks.map(\.name), "frozen_ranges": blocks.map { [$0.offset, $0.offset + $0.count] }]
    }
}
